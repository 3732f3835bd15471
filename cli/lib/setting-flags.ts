import {Flags, type Interfaces} from '@oclif/core'

import {filterSchema} from '../../renderers/filter-schema.js'
import {envName, SETTINGS, type Group, type Setting} from '../../renderers/settings.js'

/**
 * oclif flags for every render setting, generated from renderers/settings.ts so flags, env vars
 * and values-file keys cannot drift apart. No oclif defaults: a flag is "given" only when it is on
 * the command line (defaults, env and the values file are resolved by renderers/values.ts, which
 * knows which one a value came from and can name it in errors). Help shows the defaults.
 */

const HELP_GROUPS: Record<Group, string> = {
  target: 'TARGET',
  attachment: 'ATTACHMENT',
  callout: 'CALLOUT',
  filter: 'FILTER',
  module: 'MODULE',
  plugin: 'PLUGIN',
  output: 'OUTPUT',
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- string, string[] and boolean flags side by side
type AnyFlag = Interfaces.Flag<any>

/** The default shown in --help (and cached in oclif.manifest.json); filter settings take the schema's. */
function defaultText(setting: Setting): string | undefined {
  if (setting.defaultText !== undefined) return setting.defaultText
  const value = setting.filterKey === undefined ? setting.default : filterSchema().properties[setting.filterKey]?.default
  if (value === undefined || value === false || value === '') return undefined
  if (Array.isArray(value)) return value.join(',')
  return typeof value === 'object' ? undefined : String(value)
}

export function settingFlags(): Record<string, AnyFlag> {
  const flags: Record<string, AnyFlag> = {}
  for (const setting of SETTINGS) {
    const common = {
      summary: setting.summary,
      env: envName(setting),
      helpGroup: HELP_GROUPS[setting.group],
      // A function, so the schema is read only when help or the manifest needs it.
      defaultHelp: async () => defaultText(setting),
    }
    if (setting.flagKind === 'boolean') {
      flags[setting.flag] = Flags.boolean({...common, allowNo: true})
    } else if (setting.flagKind === 'multiple') {
      flags[setting.flag] = Flags.string({...common, multiple: true})
    } else {
      flags[setting.flag] = Flags.string({...common, ...(setting.char ? {char: setting.char as 'n'} : {})})
    }
  }
  return flags
}

interface Token {
  type: string
  flag?: string
}

/**
 * The settings given on the command line, by values key: oclif also fills flags from their env
 * vars, but precedence and error messages need to know which is which, so env is left to values.ts.
 */
export function givenSettings(flags: Record<string, unknown>, raw: Token[]): Record<string, unknown> {
  const onCommandLine = new Set(raw.filter((token) => token.type === 'flag').map((token) => token.flag))
  const given: Record<string, unknown> = {}
  for (const setting of SETTINGS) {
    if (onCommandLine.has(setting.flag) && flags[setting.flag] !== undefined) given[setting.key] = flags[setting.flag]
  }
  return given
}
