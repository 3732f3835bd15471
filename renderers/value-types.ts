/**
 * Parsers for render settings. Each takes a raw value as it came from a flag or an environment
 * variable (always a string) or from a values file (any YAML type), and returns the typed value or
 * throws a ValueProblem whose text says what is wrong and how to fix it; values.ts prefixes the
 * flag / env / file key it came from.
 */

export class ValueProblem extends Error {}

export type Parser<T> = (raw: unknown) => T;

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const KIND = /^[A-Za-z]([-A-Za-z0-9]*[A-Za-z0-9])?$/;
// C0 controls and DEL: never legal in the HTTP or Kubernetes fields meshwasm writes.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

/** Longest value quoted whole in a message; longer ones are cut (a 10 MB value is not echoed back). */
export const SHOW_LIMIT = 120;

/** A value as a message quotes it: JSON, cut to SHOW_LIMIT characters with the full length said. */
export function show(raw: unknown): string {
  const text = typeof raw === 'string' ? raw : (JSON.stringify(raw) ?? String(raw));
  if (text.length <= SHOW_LIMIT) return typeof raw === 'string' ? JSON.stringify(raw) : text;
  return `${JSON.stringify(text.slice(0, SHOW_LIMIT))}… (${text.length} characters)`;
}

export function isDnsLabel(value: string): boolean {
  return value.length <= 63 && DNS_LABEL.test(value);
}

export function isDnsSubdomain(value: string): boolean {
  return value.length <= 253 && DNS_SUBDOMAIN.test(value);
}

export function isDns1035Label(value: string): boolean {
  return value.length <= 63 && DNS_1035_LABEL.test(value);
}

/** Kubernetes label key: optional DNS-subdomain prefix and "/", then a name of at most 63. */
export function isLabelKey(key: string): boolean {
  const slash = key.lastIndexOf('/');
  const prefix = slash >= 0 ? key.slice(0, slash) : undefined;
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  if (prefix !== undefined && !isDnsSubdomain(prefix)) return false;
  return name.length <= 63 && LABEL_NAME.test(name);
}

export function isLabelValue(value: string): boolean {
  return value.length <= 63 && LABEL_VALUE.test(value);
}

export const text: Parser<string> = (raw) => {
  if (typeof raw !== 'string') throw new ValueProblem(`${show(raw)} is not a string; quote it`);
  if (/\p{Cs}/u.test(raw)) throw new ValueProblem('contains a lone UTF-16 surrogate; use valid Unicode text');
  return raw;
};

/** A string without control characters (CR/LF would split an HTTP header or a YAML line). */
export const line: Parser<string> = (raw) => {
  const value = text(raw);
  if (CONTROL.test(value))
    throw new ValueProblem(`${show(value)} contains a control character (CR, LF, tab, NUL…); remove it`);
  return value;
};

/** Carries its choices, so shell completion can offer them (cli/lib/manifest-choices.ts). */
export function oneOf<T extends string>(options: readonly T[]): Parser<T> & { choices: readonly T[] } {
  const parse: Parser<T> = (raw) => {
    if (typeof raw !== 'string' || !options.includes(raw as T)) {
      throw new ValueProblem(`${show(raw)} is not allowed; use one of ${options.join(', ')}`);
    }
    return raw as T;
  };
  return Object.assign(parse, { choices: options });
}

export function integer(min: number, max: number, what = 'a whole number'): Parser<number> {
  return (raw) => {
    const value = typeof raw === 'string' && /^[-+]?\d+$/.test(raw.trim()) ? Number(raw.trim()) : raw;
    if (typeof value !== 'number' || !Number.isInteger(value))
      throw new ValueProblem(`${show(raw)} is not ${what}; use one between ${min} and ${max}`);
    if (value < min || value > max)
      throw new ValueProblem(`${value} is out of range; use ${what} between ${min} and ${max}`);
    return canonicalZero(value);
  };
}

/**
 * -0 (also what "-1e-400" underflows to) is 0 to every consumer, but JSON writes it as 0 and
 * Object.is tells them apart, so a -0 would render as 0 and then fail the parse-back comparison.
 * Every parsed number is stored as the one zero.
 */
function canonicalZero(value: number): number {
  return value === 0 ? 0 : value;
}

export const number: Parser<number> = (raw) => {
  const value = typeof raw === 'string' && raw.trim() !== '' ? Number(raw.trim()) : raw;
  if (typeof value !== 'number' || !Number.isFinite(value))
    throw new ValueProblem(`${show(raw)} is not a number`);
  return canonicalZero(value);
};

export const boolean: Parser<boolean> = (raw) => {
  if (typeof raw === 'boolean') return raw;
  if (typeof raw === 'string') {
    const lower = raw.trim().toLowerCase();
    if (['true', '1', 'yes', 'y'].includes(lower)) return true;
    if (['false', '0', 'no', 'n', ''].includes(lower)) return false;
  }
  throw new ValueProblem(`${show(raw)} is not a boolean; use true or false`);
};

export const dnsLabel: Parser<string> = (raw) => {
  const value = text(raw);
  if (!isDnsLabel(value))
    throw new ValueProblem(
      `${show(value)} is not a DNS-1123 label; use at most 63 lower-case letters, digits and '-', starting and ending with a letter or digit`,
    );
  return value;
};

export const serviceName: Parser<string> = (raw) => {
  const value = text(raw);
  if (!isDns1035Label(value))
    throw new ValueProblem(
      `${show(value)} is not a valid Service name; use at most 63 lower-case letters, digits and '-', starting with a letter`,
    );
  return value;
};

export const dnsSubdomain: Parser<string> = (raw) => {
  const value = text(raw);
  if (!isDnsSubdomain(value))
    throw new ValueProblem(
      `${show(value)} is not a DNS-1123 name; use lower-case letters, digits, '-' and '.', starting and ending with a letter or digit`,
    );
  return value;
};

export const resourceName: Parser<string> = (raw) => {
  const value = dnsSubdomain(raw);
  // meshwasm derives "<name>-module"/"<name>-callout" names from it; keep room under 253 and 63.
  if (value.length > 52) throw new ValueProblem(`${show(value)} is too long; use at most 52 characters`);
  return value;
};

/** sha256 hex; a leading "sha256:" (digest form) is accepted and dropped. */
export const sha256: Parser<string> = (raw) => {
  const value = text(raw).replace(/^sha256:/, '');
  if (!/^[a-f0-9]{64}$/.test(value))
    throw new ValueProblem(
      `${show(raw)} is not a sha256; use 64 lower-case hex digits (optionally prefixed by sha256:)`,
    );
  return value;
};

/**
 * User-named keys (a header may legally be called "__proto__") are collected in a Map and turned
 * into an object with Object.fromEntries, which defines own properties: an assignment such as
 * `result[name] = value` would set the prototype instead and drop the entry.
 */
function sortedRecord(map: Map<string, string>): Record<string, string> {
  return Object.fromEntries([...map].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

function entries(raw: unknown, separator: RegExp, what: string, example: string): [string, string][] {
  if (typeof raw === 'object' && raw !== null && !Array.isArray(raw)) {
    return Object.entries(raw).map(([key, value]) => {
      if (typeof value !== 'string')
        throw new ValueProblem(`${what} ${show(key)} has value ${show(value)}; quote it as a string`);
      return [key, value];
    });
  }
  const items = Array.isArray(raw) ? raw : typeof raw === 'string' ? [raw] : undefined;
  if (!items) throw new ValueProblem(`${show(raw)} is not a map; write ${example}`);
  return items.map((item) => {
    const match = typeof item === 'string' ? separator.exec(item) : null;
    if (!match) throw new ValueProblem(`${show(item)} is not of the form ${example}`);
    return [match[1], match[2]];
  });
}

/** Pod labels: a map in a values file, "k=v,k2=v2" on the command line. */
export const labels: Parser<Record<string, string>> = (raw) => {
  const pairs = typeof raw === 'string' ? raw.split(',').filter((part) => part !== '') : raw;
  const result = new Map<string, string>();
  for (const [key, value] of entries(pairs, /^([^=]*)=(.*)$/s, 'label', 'key=value[,key=value]')) {
    if (key.includes('*') || value.includes('*'))
      throw new ValueProblem(`label ${show(key)}: wildcards are not allowed; name the exact label`);
    if (!isLabelKey(key))
      throw new ValueProblem(
        `label key ${show(key)} is invalid; use [prefix/]name with letters, digits, '-', '_', '.'`,
      );
    if (!isLabelValue(value))
      throw new ValueProblem(
        `label ${show(key)} value ${show(value)} is invalid; use at most 63 letters, digits, '-', '_', '.'`,
      );
    result.set(key, value);
  }
  if (result.size === 0) throw new ValueProblem('is empty; give at least one key=value');
  return sortedRecord(result);
};

/** Extra callout headers: a map in a values file, repeated "name=value" (or "name: value") on the command line. */
export const headers: Parser<Record<string, string>> = (raw) => {
  const list = typeof raw === 'string' ? raw.split('\n').filter((part) => part !== '') : raw;
  const result = new Map<string, string>();
  for (const [name, value] of entries(list, /^([^=:]*)(?:=|: ?)(.*)$/s, 'header', 'name=value')) {
    // HTAB is legal inside a header value; CR/LF and the other controls would split the header.
    if (CONTROL.test(value.replaceAll('\t', '')))
      throw new ValueProblem(
        `header ${show(name)}: the value contains a control character (CR, LF, NUL…); remove it`,
      );
    result.set(name, value);
  }
  return sortedRecord(result);
};

/** A list: YAML sequence in a values file, comma-separated on the command line. */
export const list: Parser<string[]> = (raw) => {
  if (typeof raw === 'string')
    return raw
      .split(',')
      .map((part) => part.trim())
      .filter((part) => part !== '');
  if (Array.isArray(raw) && raw.every((item) => typeof item === 'string')) return [...raw];
  throw new ValueProblem(`${show(raw)} is not a list of strings; write a,b,c or a YAML list`);
};

export interface TargetRef {
  group: string;
  kind: string;
  name: string;
}

const KIND_GROUPS: Record<string, string> = {
  Gateway: 'gateway.networking.k8s.io',
  GatewayClass: 'gateway.networking.k8s.io',
  HTTPRoute: 'gateway.networking.k8s.io',
  GRPCRoute: 'gateway.networking.k8s.io',
  Service: '',
  ServiceEntry: 'networking.istio.io',
};

/** Policy attachment targets: "Kind/name[,Kind/name]" or a YAML list of {kind, name, group?}. */
export const targetRefs: Parser<TargetRef[]> = (raw) => {
  const items =
    typeof raw === 'string' ? raw.split(',').filter((part) => part !== '') : Array.isArray(raw) ? raw : [raw];
  const refs = items.map((item): TargetRef => {
    let kind: unknown;
    let name: unknown;
    let group: unknown;
    if (typeof item === 'string') {
      [kind, name] = item.includes('/')
        ? [item.slice(0, item.indexOf('/')), item.slice(item.indexOf('/') + 1)]
        : [undefined, item];
    } else if (typeof item === 'object' && item !== null) {
      ({ kind, name, group } = item as Record<string, unknown>);
    }
    if (typeof kind !== 'string' || !KIND.test(kind) || typeof name !== 'string') {
      throw new ValueProblem(
        `${show(item)} is not a target reference; write Kind/name, e.g. Gateway/my-gateway or Service/back-golang`,
      );
    }
    if (!isDnsSubdomain(name))
      throw new ValueProblem(`${show(name)} is not a DNS-1123 name for the ${kind} target`);
    const defaultGroup = KIND_GROUPS[kind];
    if (group === undefined && defaultGroup === undefined) {
      throw new ValueProblem(
        `kind ${kind} is not one meshwasm knows; use Gateway, GatewayClass, HTTPRoute, GRPCRoute, Service or ServiceEntry, or give its group in a values file`,
      );
    }
    const resolvedGroup = group ?? defaultGroup;
    if (typeof resolvedGroup !== 'string' || (resolvedGroup !== '' && !isDnsSubdomain(resolvedGroup))) {
      throw new ValueProblem(`group ${show(resolvedGroup)} of ${kind}/${name} is not a DNS-1123 name`);
    }
    return { group: resolvedGroup, kind, name };
  });
  if (refs.length === 0) throw new ValueProblem('is empty; give at least one Kind/name');
  if (refs.length > 16) throw new ValueProblem(`has ${refs.length} targets; at most 16 are allowed`);
  return refs;
};
