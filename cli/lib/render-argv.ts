import { parseArgs, type ParseArgsConfig } from 'node:util';

import { RENDER_FLAGS, type RenderFlag } from './render-flags.js';
import { registryOptions, type RenderRequest } from './render-run.js';

/**
 * The lean argv parser for `meshwasm render` (used by cli/render-main.ts so a render does not load
 * oclif): node:util parseArgs with options generated from cli/lib/render-flags.ts, the same table
 * the oclif flags come from.
 *
 * It accepts only argv whose meaning is certain to be what oclif's parser makes of it: long flags
 * with a separate or `=` value, short chars with a separate value, switches and --no-<switch>,
 * repeatable flags, and option values that start with "-" (oclif takes those unless they name a
 * flag). For anything else it returns undefined and the caller hands the whole argv to oclif:
 * --help/-h anywhere, `--`, a non-repeatable flag given twice, short chars with an attached value
 * (-ojson), unknown flags, stray arguments, missing values. Those are oclif's to answer (help, or
 * its usage errors with their exact messages), so both entries behave the same on every argv.
 */

const BY_NAME = new Map(RENDER_FLAGS.map((flag) => [flag.name, flag]));
const BY_CHAR = new Map(RENDER_FLAGS.filter((flag) => flag.char).map((flag) => [flag.char!, flag]));
const VALUES_FLAG = BY_NAME.get('values')!;
const NEGATION = '--no-';

type Options = NonNullable<ParseArgsConfig['options']>;

/** parseArgs options, and which flag each option sets (value false for a --no-<switch> option). */
function parseArgsOptions(): { options: Options; flags: Map<string, { flag: RenderFlag; value?: false }> } {
  const options: Options = {};
  const flags = new Map<string, { flag: RenderFlag; value?: false }>();
  for (const flag of RENDER_FLAGS) {
    options[flag.name] = {
      type: flag.kind === 'boolean' ? 'boolean' : 'string',
      multiple: flag.kind === 'multiple',
      ...(flag.char ? { short: flag.char } : {}),
    };
    flags.set(flag.name, { flag });
    if (flag.allowNo) {
      // Node 20's parseArgs has no allowNegative; the negation is an option of its own.
      const negation = `${NEGATION.slice(2)}${flag.name}`;
      options[negation] = { type: 'boolean' };
      flags.set(negation, { flag, value: false });
    }
  }
  return { options, flags };
}

const { options: OPTIONS, flags: OPTION_FLAGS } = parseArgsOptions();

/** The flag a token names the way oclif's findFlag reads it ("--name", "--no-name", "-c…"), if any. */
function namedFlag(token: string): RenderFlag | undefined {
  if (token.startsWith('--')) {
    const flag = BY_NAME.get(token.slice(2));
    if (flag) return flag;
    const negated = token.startsWith(NEGATION) ? BY_NAME.get(token.slice(NEGATION.length)) : undefined;
    return negated?.allowNo ? negated : undefined;
  }
  return token.startsWith('-') ? BY_CHAR.get(token[1]) : undefined;
}

/**
 * oclif gives a value-taking flag the next token whatever it starts with (`--priority -10`) unless
 * that token names a flag; parseArgs refuses dash-leading values, so such pairs are passed to it
 * joined with "=". Undefined when the next token names a flag (oclif: "expects a value").
 */
function joinDashValues(argv: readonly string[]): string[] | undefined {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i];
    if (valueNamesFlag(token)) return undefined;
    const flag = token.startsWith('--')
      ? BY_NAME.get(token.slice(2))
      : token.length === 2 && token.startsWith('-')
        ? BY_CHAR.get(token[1])
        : undefined;
    const next = argv[i + 1];
    if (flag && flag.kind !== 'boolean' && next !== undefined && next.startsWith('-') && next !== '-') {
      if (namedFlag(next)) return undefined;
      out.push(`--${flag.name}=${next}`);
      i++;
    } else {
      out.push(token);
    }
  }
  return out;
}

/**
 * `--name=value` where value names a flag (`--callout-body=--fail-open`): oclif splits at "=" and
 * then reads the value as the next token, so it refuses it ("expects a value") like the separate
 * form; parseArgs would take it. Left to oclif so both entries answer the same.
 */
function valueNamesFlag(token: string): boolean {
  const eq = token.indexOf('=');
  if (!token.startsWith('--') || eq < 0) return false;
  const flag = BY_NAME.get(token.slice(2, eq));
  return flag !== undefined && flag.kind !== 'boolean' && namedFlag(token.slice(eq + 1)) !== undefined;
}

/** The render request for argv (without the leading "render"), or undefined: let oclif parse it. */
export function parseRenderArgv(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): RenderRequest | undefined {
  if (argv.some((token) => token === '--' || token === '--help' || token === '-h')) return undefined;
  const args = joinDashValues(argv);
  if (!args) return undefined;
  let tokens;
  try {
    ({ tokens } = parseArgs({ args, options: OPTIONS, tokens: true, strict: true, allowPositionals: false }));
  } catch {
    return undefined;
  }
  const given = new Map<RenderFlag, unknown>();
  for (const token of tokens) {
    /* c8 ignore next -- strict parseArgs without positionals yields options only ("--" was ruled out) */
    if (token.kind !== 'option') return undefined;
    // -ojson / -o=json: oclif strips a leading "=", parseArgs keeps it; not worth replicating.
    if (!token.rawName.startsWith('--') && token.inlineValue) return undefined;
    const { flag, value } = OPTION_FLAGS.get(token.name)!;
    if (flag.kind === 'multiple') {
      given.set(flag, [...((given.get(flag) as string[] | undefined) ?? []), token.value!]);
      continue;
    }
    // oclif refuses a repeated value flag and lets the last of repeated switches win; leave both to it.
    if (given.has(flag)) return undefined;
    given.set(flag, value ?? token.value ?? true);
  }
  const settings: Record<string, unknown> = {};
  for (const [flag, value] of given) if (flag.setting) settings[flag.setting.key] = value;
  // Like oclif, --values falls back to its env var when that is set and not empty.
  const valuesFile = (given.get(VALUES_FLAG) as string | undefined) ?? (env[VALUES_FLAG.env!] || undefined);
  return {
    ...(valuesFile === undefined ? {} : { values: valuesFile }),
    printValues: given.get(BY_NAME.get('print-values')!) === true,
    registry: registryOptions((name) => given.get(BY_NAME.get(name)!)),
    given: settings,
  };
}
