import { Flags, type Interfaces } from '@oclif/core';

import { filterSchema } from '../../renderers/filter-schema.js';
import type { Setting } from '../../renderers/settings.js';
import { RENDER_FLAGS } from './render-flags.js';

/**
 * oclif flags for `meshwasm render`, generated from cli/lib/render-flags.ts (itself generated from
 * renderers/settings.ts) so flags, env vars and values-file keys cannot drift apart. No oclif
 * defaults: a setting is "given" only when it is on the command line (defaults, env and the values
 * file are resolved by renderers/values.ts, which knows which one a value came from and can name
 * it in errors). Help shows the defaults.
 */

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- string, string[] and boolean flags side by side
type AnyFlag = Interfaces.Flag<any>;

/** The default shown in --help (and cached in oclif.manifest.json); filter settings take the schema's. */
function defaultText(setting: Setting): string | undefined {
  if (setting.defaultText !== undefined) return setting.defaultText;
  const value =
    setting.filterKey === undefined ? setting.default : filterSchema().properties[setting.filterKey]?.default;
  if (value === undefined || value === false || value === '') return undefined;
  if (Array.isArray(value)) return value.join(',');
  return typeof value === 'object' ? undefined : String(value);
}

export function renderFlags(): Record<string, AnyFlag> {
  const flags: Record<string, AnyFlag> = {};
  for (const flag of RENDER_FLAGS) {
    const { setting } = flag;
    const common = {
      summary: flag.summary,
      helpGroup: flag.helpGroup,
      ...(flag.env ? { env: flag.env } : {}),
      // A function, so the schema is read only when help or the manifest needs it.
      ...(setting ? { defaultHelp: async () => defaultText(setting) } : {}),
    };
    if (flag.kind === 'boolean') {
      flags[flag.name] = Flags.boolean({ ...common, ...(flag.allowNo ? { allowNo: true } : {}) });
    } else if (flag.kind === 'multiple') {
      flags[flag.name] = Flags.string({ ...common, multiple: true });
    } else {
      flags[flag.name] = Flags.string({ ...common, ...(flag.char ? { char: flag.char as 'n' } : {}) });
    }
  }
  return flags;
}

interface Token {
  type: string;
  flag?: string;
}

/**
 * The settings given on the command line, by values key: oclif also fills flags from their env
 * vars, but precedence and error messages need to know which is which, so env is left to values.ts.
 */
export function givenSettings(flags: Record<string, unknown>, raw: Token[]): Record<string, unknown> {
  const onCommandLine = new Set(raw.filter((token) => token.type === 'flag').map((token) => token.flag));
  const given: Record<string, unknown> = {};
  for (const { name, setting } of RENDER_FLAGS) {
    if (setting && onCommandLine.has(name) && flags[name] !== undefined) given[setting.key] = flags[name];
  }
  return given;
}
