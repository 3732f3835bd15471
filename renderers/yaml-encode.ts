/**
 * The one encoder every template uses for every value it prints (through the `yaml` handlebars
 * helper, see templates.ts). Nothing user-supplied reaches a manifest any other way.
 *
 * Rules, chosen so that the output reads back as the same data under YAML 1.2 (eemeli/yaml, our own
 * parse-back) and YAML 1.1 (go-yaml v2 behind kubectl/oc), whatever the input:
 * - a string is printed plain only when it is made of a small safe alphabet and cannot be read as
 *   anything but a string (no leading digit/sign/dot, no yes/no/on/off/null/true/false…; lower-case
 *   hex words such as digests are the one exception to the leading-digit rule);
 *   otherwise it is double-quoted with JSON escapes, plus \u escapes for the characters YAML does
 *   not allow raw (C1 controls, DEL, U+2028/2029, BOM, non-characters);
 * - numbers must be finite; objects keep the key order they were built with (the renderers build
 *   them deterministically), except where canonicalJson sorts them;
 * - the filter configuration is printed as canonical JSON (sorted keys, `": "` and `", "`
 *   separators so that YAML 1.1 flow parsing agrees), which is also a valid YAML flow mapping: the
 *   same bytes appear in a WasmPlugin pluginConfig, an EnvoyFilter configuration string and an
 *   EnvoyExtensionPolicy config.
 */

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/**
 * A string to be printed byte for byte as a literal block scalar wherever block() meets it
 * (the EnvoyFilter `configuration.value`, which carries the canonical JSON filter configuration).
 */
export class Verbatim {
  constructor(readonly text: string) {}
}

const PLAIN_SAFE = /^[A-Za-z_/][A-Za-z0-9_./@%+=~|-]*(?::[A-Za-z0-9_./@%+=~|-]+)*$/;
// Words that YAML 1.1 or 1.2 resolves to booleans, nulls or numbers ("e5": eemeli/yaml's 1.1
// float pattern makes the mantissa optional).
const RESERVED = /^(?:y|n|yes|no|on|off|true|false|null|nan|inf|e[0-9]+)$/i;
// Lower-case hex with a letter other than e (sha256 digests): no YAML or Go number syntax reads
// that (hex numbers need 0x, exponents are only e), so it may stay plain even with a leading digit
// — except 0b followed by binary digits, a YAML 1.1 (and Go) binary integer. Three separate tests,
// each one pass over the string: the single pattern /^[0-9a-f]*[a-df][0-9a-f]*$/ backtracks
// quadratically on a long hex run that ends in another character.
const HEX_ONLY = /^[0-9a-f]*$/;
const HEX_LETTER = /[a-df]/;
const BINARY_INTEGER = /^0b[01]*$/;

function isHexWord(value: string): boolean {
  return HEX_ONLY.test(value) && HEX_LETTER.test(value) && !BINARY_INTEGER.test(value);
}
// Characters YAML forbids raw even inside double quotes (or that YAML 1.1 treats as line breaks).
const NON_PRINTABLE = /[\u007f-\u009f\u2028\u2029\ufeff\ufffe\uffff]/g;
// eslint-disable-next-line no-control-regex
const NEEDS_ESCAPE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\ufeff\ufffe\uffff]|\p{Cs}/u;

function escapeNonPrintable(json: string): string {
  return json.replace(NON_PRINTABLE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

export function quoted(value: string): string {
  return escapeNonPrintable(JSON.stringify(value));
}

export function scalar(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError(`yaml-encode: cannot encode ${value}`);
    return JSON.stringify(value);
  }
  if (typeof value === 'string') {
    return (PLAIN_SAFE.test(value) && !RESERVED.test(value)) || isHexWord(value) ? value : quoted(value);
  }
  throw new TypeError(`yaml-encode: ${typeof value} is not a scalar`);
}

function isEmptyCollection(value: unknown): boolean {
  if (Array.isArray(value)) return value.length === 0;
  return isPlainObject(value) && Object.keys(value).length === 0;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Verbatim);
}

/** A value that fits on the line after `key: ` or `- `. */
export function inline(value: unknown): string {
  if (value instanceof Verbatim) return quoted(value.text);
  if (Array.isArray(value) || isPlainObject(value)) {
    if (isEmptyCollection(value)) return Array.isArray(value) ? '[]' : '{}';
    throw new TypeError('yaml-encode: a non-empty collection needs block form');
  }
  return scalar(value);
}

/** Block-style lines for a non-empty mapping or sequence, each prefixed by `indent` spaces. */
export function block(value: unknown, indent: number): string[] {
  const pad = ' '.repeat(indent);
  const lines: string[] = [];
  if (Array.isArray(value)) {
    for (const item of value) {
      if (Array.isArray(item) && !isEmptyCollection(item)) {
        lines.push(`${pad}-`, ...block(item, indent + 2));
      } else if (isPlainObject(item) && !isEmptyCollection(item)) {
        const inner = block(item, indent + 2);
        inner[0] = `${pad}- ${inner[0].slice(indent + 2)}`;
        lines.push(...inner);
      } else {
        lines.push(`${pad}- ${inline(item)}`);
      }
    }
    return lines;
  }
  if (isPlainObject(value)) {
    for (const [key, item] of Object.entries(value)) {
      if (item === undefined) continue;
      const k = scalar(key);
      if (item instanceof Verbatim) {
        lines.push(...`${pad}${k}: ${literal(item.text, indent + 2)}`.split('\n'));
      } else if ((Array.isArray(item) || isPlainObject(item)) && !isEmptyCollection(item)) {
        // Sequences sit at their key's column ("compact", as kubectl prints), mappings 2 deeper.
        lines.push(`${pad}${k}:`, ...block(item, Array.isArray(item) ? indent : indent + 2));
      } else {
        lines.push(`${pad}${k}: ${inline(item)}`);
      }
    }
    return lines;
  }
  throw new TypeError('yaml-encode: block form needs a mapping or a sequence');
}

/** JSON with sorted keys and YAML-safe escapes; the bytes are the same wherever it is printed. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((item) => canonicalJson(item)).join(', ')}]`;
  if (isPlainObject(value)) {
    const keys = Object.keys(value)
      .filter((key) => value[key] !== undefined)
      .sort();
    return `{${keys.map((key) => `${quoted(key)}: ${canonicalJson(value[key])}`).join(', ')}}`;
  }
  if (typeof value === 'string') return quoted(value);
  if (value instanceof Verbatim) return quoted(value.text);
  return scalar(value);
}

/**
 * A one-line string as a literal block scalar (`|-`), so the text appears byte for byte in the
 * manifest. Used for the EnvoyFilter configuration string, which is the canonical JSON above.
 * Falls back to a double-quoted scalar for text a literal block cannot carry verbatim.
 */
export function literal(value: string, indent: number): string {
  if (value === '' || /^\s|\s$/.test(value) || NEEDS_ESCAPE.test(value)) return quoted(value);
  return `|-\n${' '.repeat(indent)}${value}`;
}

export interface HelperOptions {
  hash: { at?: number; json?: boolean };
}

/**
 * The handlebars helper.
 * - `key: {{yaml v}}` prints an inline scalar;
 * - `key:{{yaml v at=N}}`, for a key at column N, prints ` scalar`, or the mapping/sequence as a
 *   block on the following lines (a mapping at N+2, a sequence at N);
 * - `key: {{yaml v json=true}}` prints v as canonical JSON (a YAML flow mapping).
 */
export function yamlHelper(value: unknown, options: HelperOptions): string {
  const { at, json } = options.hash;
  if (json) return canonicalJson(value);
  if (at !== undefined) {
    if ((Array.isArray(value) || isPlainObject(value)) && !isEmptyCollection(value)) {
      return `\n${block(value, Array.isArray(value) ? at : at + 2).join('\n')}`;
    }
    return ` ${inline(value)}`;
  }
  return inline(value);
}
