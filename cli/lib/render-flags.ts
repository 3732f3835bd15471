import { envName, SETTINGS, type Group, type Setting } from '../../renderers/settings.js';

/**
 * Every flag of `meshwasm render`, once: render's own -f/--values and --print-values, then one
 * flag per render setting (renderers/settings.ts). Two parsers are generated from this table: the
 * oclif flags (cli/lib/oclif-flags.ts: --help, the manifest, and whatever argv the lean parser
 * leaves to oclif) and the node:util parseArgs options of the lean entry that renders without
 * loading oclif (cli/lib/render-argv.ts). Nothing here imports oclif.
 */

export interface RenderFlag {
  /** Long name: --name. */
  name: string;
  char?: string;
  /** One string, a switch, or a repeatable string. */
  kind: Setting['flagKind'];
  /** --no-<name> sets the switch to false. */
  allowNo: boolean;
  /** Environment variable oclif reads the flag from (settings: read by renderers/values.ts instead). */
  env?: string;
  summary: string;
  helpGroup: string;
  /** The render setting this flag gives; absent for --values and --print-values. */
  setting?: Setting;
}

const HELP_GROUPS: Record<Group, string> = {
  target: 'TARGET',
  attachment: 'ATTACHMENT',
  callout: 'CALLOUT',
  filter: 'FILTER',
  module: 'MODULE',
  plugin: 'PLUGIN',
  output: 'OUTPUT',
};

export const RENDER_FLAGS: readonly RenderFlag[] = [
  {
    name: 'values',
    char: 'f',
    kind: 'string',
    allowNo: false,
    env: 'MESHWASM_VALUES',
    helpGroup: 'INPUT',
    summary: 'Values file (YAML or JSON), or - for stdin; flags and env override it.',
  },
  {
    name: 'print-values',
    kind: 'boolean',
    allowNo: false,
    helpGroup: 'INPUT',
    summary: 'Print the effective values as an editable values file instead of rendering.',
  },
  // How to reach the registry when a user-given --image tag is pinned: the options of `meshwasm
  // push`. Not settings (a password has no place in a values file or the rendered output).
  {
    name: 'insecure',
    kind: 'boolean',
    allowNo: false,
    helpGroup: 'REGISTRY',
    summary: 'Pinning --image: talk plain HTTP to the registry (and its token service).',
  },
  {
    name: 'creds',
    kind: 'string',
    allowNo: false,
    helpGroup: 'REGISTRY',
    summary: 'Pinning --image: USER:PASSWORD for the registry.',
  },
  {
    name: 'username',
    kind: 'string',
    allowNo: false,
    helpGroup: 'REGISTRY',
    summary: 'Pinning --image: user name; the password is read from stdin (--password-stdin).',
  },
  {
    name: 'password-stdin',
    kind: 'boolean',
    allowNo: false,
    helpGroup: 'REGISTRY',
    summary: 'Pinning --image: read the password from stdin (with --username).',
  },
  ...SETTINGS.map((setting): RenderFlag => ({
    name: setting.flag,
    ...(setting.char ? { char: setting.char } : {}),
    kind: setting.flagKind,
    // Boolean settings can be switched off on the command line over an env var or a values file.
    allowNo: setting.flagKind === 'boolean',
    env: envName(setting),
    helpGroup: HELP_GROUPS[setting.group],
    summary: setting.summary,
    setting,
  })),
];
