import { createHash } from 'node:crypto';

import * as t from './value-types.js';
import { SUPPORTED_MESH_VERSIONS } from './versions.js';

/**
 * Every render setting, once: its values-file key, flag, environment variable, help text, parser
 * and default. The CLI builds its oclif flags from this table, values.ts resolves and checks
 * values with it, and --print-values writes it back out, so a setting cannot exist in one place
 * and not the others. Precedence: flag > MESHWASM_* env > values file (-f) > default.
 *
 * Settings with `filterKey` feed the filter configuration: their default is that property's
 * `default` in filter/config.schema.json and their constraints are checked by the schema.
 */

export const TARGETS = ['ossm', 'envoyfilter', 'envoy-gateway'] as const;
export type Target = (typeof TARGETS)[number];
export const SHAPES = ['sidecar', 'gateway', 'gateway-api', 'waypoint', 'route'] as const;
export type Shape = (typeof SHAPES)[number];
export const PHASES = ['AUTHN', 'AUTHZ', 'STATS', 'UNSPECIFIED_PHASE'] as const;
export const PULL_POLICIES = ['IfNotPresent', 'Always'] as const;
export const OUTPUTS = ['yaml', 'json'] as const;
/** EnvoyProxy merge settings of Envoy Gateway (mergeGateways / mergeBackends; mutually exclusive there too). */
export const EG_MERGES = ['gateways', 'backends'] as const;
export type EgMerge = (typeof EG_MERGES)[number];

/** Root id the filter registers (filter/assembly/index.ts registerRootContext(…, "meshwasm")). */
export const ROOT_ID = 'meshwasm';
/** Image used when no module source is given; packaging pushes it (see README). */
export const DEFAULT_IMAGE = 'oci://quay.io/meshwasm/callout-filter:0.1.0';

export type Group = 'target' | 'attachment' | 'callout' | 'filter' | 'module' | 'plugin' | 'output';

export interface Setting {
  key: string;
  flag: string;
  char?: string;
  group: Group;
  summary: string;
  /** How the CLI takes it: one string, a boolean switch, or a repeatable string. */
  flagKind: 'string' | 'boolean' | 'multiple';
  /** Property of the filter configuration this setting feeds. */
  filterKey?: string;
  parse: t.Parser<unknown>;
  /**
   * Default: a constant, or derived from the other values (then --print-values writes it as a
   * comment, so editing what it derives from still takes effect). Undefined: no default.
   */
  default?: unknown;
  derive?: (values: Record<string, unknown>) => unknown;
  /** Shown as the default in --help and --print-values comments for derived defaults. */
  defaultText?: string;
  /** The values shell completion offers when `parse` is not a oneOf (which carries its own). */
  choices?: readonly string[];
}

/** What shell completion offers for a setting's flag, if it has a closed set of values. */
export function settingChoices(setting: Setting): readonly string[] | undefined {
  return setting.choices ?? (setting.parse as { choices?: readonly string[] }).choices;
}

/**
 * The longest derived resource name kept as is: --output-dir writes `<kind>-<name>.json`, and with
 * the longest kind (envoyextensionpolicy) the file name must stay within the 255 bytes a file name
 * may have on Linux and macOS. Every Kubernetes name limit (253) is looser.
 */
export const MAX_DERIVED_NAME = 229;

/**
 * `prefix + name`, or, when that would be longer than MAX_DERIVED_NAME (a 253-character Gateway
 * name), the prefix, the start of the name and 8 hex digits of its sha256: still unique per name,
 * still a DNS-1123 subdomain, and within the 52 characters a given --plugin-name may have.
 */
export function derivedName(prefix: string, name: string): string {
  const full = `${prefix}${name}`;
  if (full.length <= MAX_DERIVED_NAME) return full;
  const hash = createHash('sha256').update(name).digest('hex').slice(0, 8);
  const head = name.slice(0, 52 - prefix.length - hash.length - 1).replace(/[-.]+$/, '');
  return `${prefix}${head}-${hash}`;
}

export function envName(setting: Pick<Setting, 'flag'>): string {
  return `MESHWASM_${setting.flag.toUpperCase().replaceAll('-', '_')}`;
}

const filterSetting = (
  filterKey: string,
  flag: string,
  key: string,
  summary: string,
  flagKind: Setting['flagKind'] = 'string',
): Setting => ({
  key,
  flag,
  group: 'filter',
  summary,
  flagKind,
  filterKey,
  parse: filterParser(filterKey),
});

/** Parser by the schema type of a filter property; the schema itself checks the constraints. */
function filterParser(filterKey: string): t.Parser<unknown> {
  switch (filterKey) {
    case 'timeoutMs':
    case 'failureStatus':
    case 'fanOut':
    case 'maxInFlight':
      return t.integer(Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
    case 'sampleRate':
      return t.number;
    case 'headers':
      return t.headers;
    case 'propagateHeaders':
      return t.list;
    case 'body':
      return t.text;
    default:
      return t.line;
  }
}

export const SETTINGS: readonly Setting[] = [
  {
    key: 'target',
    flag: 'target',
    group: 'target',
    flagKind: 'string',
    summary: `What to render: ${TARGETS.join(' | ')}, or auto (what the cluster runs, as meshwasm detect finds it).`,
    parse: t.oneOf(TARGETS),
    default: 'ossm',
  },
  {
    key: 'meshVersion',
    flag: 'mesh-version',
    group: 'target',
    flagKind: 'string',
    summary:
      'Mesh version to render for (ossm-2.5 … ossm-3.4, istio-1.20 … istio-1.30, eg-1.9); gates the fields emitted.',
    parse: t.line,
    choices: SUPPORTED_MESH_VERSIONS,
    derive: (v) => (v.target === 'envoy-gateway' ? 'eg-1.9' : 'ossm-3.2'),
    defaultText: 'ossm-3.2, eg-1.9 for envoy-gateway',
  },
  {
    key: 'shape',
    flag: 'shape',
    group: 'target',
    flagKind: 'string',
    summary: `Where the filter runs: ${SHAPES.join(' | ')} (route = an Envoy Gateway HTTPRoute).`,
    parse: t.oneOf(SHAPES),
    derive: (v) => (v.target === 'envoy-gateway' ? 'route' : 'sidecar'),
    defaultText: 'sidecar, route for envoy-gateway',
  },
  {
    key: 'namespace',
    flag: 'namespace',
    char: 'n',
    group: 'attachment',
    flagKind: 'string',
    summary: 'Namespace of the workload and of the rendered resources.',
    parse: t.dnsLabel,
    default: 'jump-app-dev',
  },
  {
    key: 'workload',
    flag: 'workload',
    group: 'attachment',
    flagKind: 'string',
    summary:
      'Workload the filter runs for: its app label (sidecar), its Service (waypoint) or its HTTPRoute (route).',
    parse: t.dnsLabel,
    default: 'back-golang',
  },
  {
    key: 'workloadPort',
    flag: 'workload-port',
    group: 'attachment',
    flagKind: 'string',
    summary:
      "Service port of --workload: an EnvoyFilter on a waypoint is scoped to the waypoint's filter chain for that port of the Service.",
    parse: t.integer(1, 65535, 'a port'),
    default: 8442,
  },
  {
    key: 'selector',
    flag: 'selector',
    group: 'attachment',
    flagKind: 'string',
    summary:
      'Pod labels to attach by, key=value[,key=value] (default app=<workload>; istio=ingressgateway for --shape gateway).',
    parse: t.labels,
  },
  {
    key: 'targetRefs',
    flag: 'target-ref',
    group: 'attachment',
    flagKind: 'string',
    summary:
      'Policy targets, Kind/name[,Kind/name] (default Gateway/<gateway>, Service/<workload> for waypoint, HTTPRoute/<workload> for route).',
    parse: t.targetRefs,
  },
  {
    key: 'gateway',
    flag: 'gateway',
    group: 'attachment',
    flagKind: 'string',
    summary:
      'Gateway API Gateway: the target for --shape gateway-api, the waypoint for --shape waypoint, and the Gateway Envoy Gateway adds the callout cluster to.',
    parse: t.dnsSubdomain,
    derive: (v) => (v.target === 'envoy-gateway' ? 'eg' : v.shape === 'waypoint' ? 'waypoint' : undefined),
    defaultText: 'eg for envoy-gateway, waypoint for --shape waypoint',
  },
  {
    key: 'gatewayNamespace',
    flag: 'gateway-namespace',
    group: 'attachment',
    flagKind: 'string',
    summary:
      "Namespace of the gateway: the classic ingress gateway (--shape gateway), --gateway (--shape gateway-api), Envoy Gateway's EnvoyPatchPolicy. Istio only selects a gateway by resources in its own (or the root) namespace, so the WasmPlugin/EnvoyFilter goes there.",
    parse: t.dnsLabel,
    // istio-ingressgateway lives in istio-system in every standard install; other gateways are
    // usually deployed next to the workload.
    derive: (v) => (v.shape === 'gateway' && v.target !== 'envoy-gateway' ? 'istio-system' : v.namespace),
    defaultText: 'istio-system for --shape gateway, else <namespace>',
  },
  {
    key: 'gatewayClass',
    flag: 'gateway-class',
    group: 'attachment',
    flagKind: 'string',
    summary:
      "GatewayClass of --gateway; with --eg-merge gateways Envoy Gateway's EnvoyPatchPolicy targets it instead of the Gateway.",
    parse: t.dnsSubdomain,
    derive: (v) => (v.target === 'envoy-gateway' ? 'eg' : undefined),
    defaultText: 'eg for envoy-gateway',
  },
  {
    key: 'egMerge',
    flag: 'eg-merge',
    group: 'attachment',
    flagKind: 'string',
    summary: `The EnvoyProxy merge setting of the Gateway's Envoy Gateway: ${EG_MERGES.join(' | ')} (mergeGateways: the EnvoyPatchPolicy targets the GatewayClass; mergeBackends: call the shared cluster of --callout-service that routes create, no EnvoyPatchPolicy).`,
    parse: t.oneOf(EG_MERGES),
  },
  {
    key: 'calloutService',
    flag: 'callout-service',
    group: 'callout',
    flagKind: 'string',
    summary: 'Service the filter calls.',
    parse: t.serviceName,
    default: 'back-python',
  },
  {
    key: 'calloutNamespace',
    flag: 'callout-namespace',
    group: 'callout',
    flagKind: 'string',
    summary: 'Namespace of --callout-service.',
    parse: t.dnsLabel,
    derive: (v) => v.namespace,
    defaultText: '<namespace>',
  },
  {
    key: 'calloutPort',
    flag: 'callout-port',
    group: 'callout',
    flagKind: 'string',
    summary: "Service port of --callout-service (the Service's port, not the targetPort).",
    parse: t.integer(1, 65535, 'a port'),
    default: 8444,
  },
  {
    key: 'calloutCluster',
    flag: 'callout-cluster',
    group: 'callout',
    flagKind: 'string',
    summary:
      'Existing Envoy cluster to call instead of the one derived from the Service (e.g. httproute/<ns>/<route>/rule/0 on Envoy Gateway); nothing is added to create it.',
    parse: t.line,
  },
  {
    key: 'clusterDomain',
    flag: 'cluster-domain',
    group: 'callout',
    flagKind: 'string',
    summary: 'Kubernetes cluster DNS domain.',
    parse: t.dnsSubdomain,
    default: 'cluster.local',
  },
  filterSetting(
    'path',
    'callout-path',
    'calloutPath',
    ':path of the callout, query string included; starts with /.',
  ),
  filterSetting('method', 'callout-method', 'calloutMethod', 'HTTP method of the callout.'),
  filterSetting(
    'authority',
    'callout-authority',
    'calloutAuthority',
    ':authority of the callout (default: the Service host).',
  ),
  filterSetting('timeoutMs', 'callout-timeout-ms', 'calloutTimeoutMs', 'Callout timeout in milliseconds.'),
  filterSetting(
    'headers',
    'callout-header',
    'calloutHeaders',
    'Extra header on every callout, name=value; repeat the flag for more.',
    'multiple',
  ),
  filterSetting('body', 'callout-body', 'calloutBody', 'Callout body (UTF-8).'),
  filterSetting('trigger', 'trigger', 'trigger', 'When the callout fires: request | response.'),
  filterSetting(
    'mode',
    'mode',
    'mode',
    'async (fire and forget) | blocking (the request waits for the callouts).',
  ),
  filterSetting(
    'failureStatus',
    'failure-status',
    'failureStatus',
    'Blocking mode: 0 continues when a callout fails, 200-599 replies with that status.',
  ),
  filterSetting(
    'fanOut',
    'fan-out',
    'fanOut',
    'Callouts per triggering request (blocking mode needs at least 1).',
  ),
  filterSetting(
    'outcomeHeader',
    'outcome-header',
    'outcomeHeader',
    'Blocking mode: response header that reports <succeeded>/<dispatched>.',
  ),
  filterSetting(
    'propagateHeaders',
    'propagate-headers',
    'propagateHeaders',
    'Request headers copied onto the callout, comma-separated; a trailing * is a prefix.',
  ),
  filterSetting(
    'maxInFlight',
    'max-in-flight',
    'maxInFlight',
    'Per-VM bound on callouts in flight; callouts beyond it are skipped.',
  ),
  filterSetting(
    'sampleRate',
    'sample-rate',
    'sampleRate',
    'Fraction of requests that trigger callouts, 0..1.',
  ),
  {
    key: 'image',
    flag: 'image',
    group: 'module',
    flagKind: 'string',
    summary: `Module as an OCI image, oci://registry/repo:tag[@sha256:…] (default ${DEFAULT_IMAGE}).`,
    parse: t.line,
  },
  {
    key: 'url',
    flag: 'url',
    group: 'module',
    flagKind: 'string',
    summary: 'Module as a .wasm over HTTP(S), https://host/path.wasm (needs --sha256 for envoyfilter).',
    parse: t.line,
  },
  {
    key: 'file',
    flag: 'file',
    group: 'module',
    flagKind: 'string',
    summary: 'Module as a file inside the proxy container, /path/plugin.wasm (ossm and envoyfilter).',
    parse: t.line,
  },
  {
    key: 'sha256',
    flag: 'sha256',
    group: 'module',
    flagKind: 'string',
    summary:
      'Module checksum: the OCI manifest digest for --image, the sha256 of the .wasm for --url/--file.',
    parse: t.sha256,
  },
  {
    key: 'moduleCa',
    flag: 'module-ca',
    group: 'module',
    flagKind: 'string',
    summary:
      "CA bundle (a path inside the proxy container) that signs the --url host's certificate, for an EnvoyFilter's module-host cluster; default the system CAs.",
    parse: t.line,
  },
  {
    key: 'pullSecret',
    flag: 'pull-secret',
    group: 'module',
    flagKind: 'string',
    summary: 'Secret (kubernetes.io/dockerconfigjson) to pull --image with.',
    parse: t.dnsSubdomain,
  },
  {
    key: 'pullPolicy',
    flag: 'pull-policy',
    group: 'module',
    flagKind: 'string',
    summary: `Image pull policy: ${PULL_POLICIES.join(' | ')}.`,
    parse: t.oneOf(PULL_POLICIES),
  },
  {
    key: 'registryTimeout',
    flag: 'registry-timeout',
    group: 'module',
    flagKind: 'string',
    summary:
      'Seconds render may spend asking the registry for the digest of --image (every request and byte together); then the digest recorded by meshwasm push is used.',
    parse: t.integer(1, 3600, 'a number of seconds'),
    default: 60,
  },
  {
    key: 'pluginName',
    flag: 'plugin-name',
    group: 'plugin',
    flagKind: 'string',
    summary: `Name of the rendered resources (the filter's root id stays "${ROOT_ID}").`,
    parse: t.resourceName,
    derive: (v) =>
      derivedName(
        'meshwasm-',
        String(
          v.shape === 'gateway-api' && typeof v.gateway === 'string'
            ? v.gateway
            : v.shape === 'gateway'
              ? 'ingressgateway'
              : v.workload,
        ),
      ),
    defaultText: 'meshwasm-<workload>',
  },
  {
    key: 'phase',
    flag: 'phase',
    group: 'plugin',
    flagKind: 'string',
    summary: `WasmPlugin phase: ${PHASES.join(' | ')} (ossm only).`,
    parse: t.oneOf(PHASES),
    derive: (v) => (v.target === 'ossm' ? 'STATS' : undefined),
    defaultText: 'STATS for ossm',
  },
  {
    key: 'priority',
    flag: 'priority',
    group: 'plugin',
    flagKind: 'string',
    summary: 'WasmPlugin priority within its phase, or EnvoyFilter priority.',
    parse: t.integer(-2147483648, 2147483647, 'an int32'),
    // An EnvoyFilter with a relative patch (INSERT_BEFORE the router) at the default priority 0 is
    // what `istioctl analyze` flags (IST0151): its order against other EnvoyFilters is then only
    // their creation order. 10 puts ours after the usual 0, so the callout stays next to the router,
    // behind filters (auth, rate limits) that other EnvoyFilters insert before it.
    derive: (v) => (v.target === 'envoyfilter' ? 10 : undefined),
    defaultText: '10 for envoyfilter',
  },
  {
    key: 'failOpen',
    flag: 'fail-open',
    group: 'plugin',
    flagKind: 'boolean',
    summary: 'Let traffic through when the module fails to load or crashes (default: fail closed).',
    parse: t.boolean,
    default: false,
  },
  {
    key: 'failReload',
    flag: 'fail-reload',
    group: 'plugin',
    flagKind: 'boolean',
    summary: 'On a module crash start a fresh VM for new requests (FAIL_RELOAD; Istio 1.27+ / OSSM 3.2+).',
    parse: t.boolean,
    default: false,
  },
  {
    key: 'output',
    flag: 'output',
    char: 'o',
    group: 'output',
    flagKind: 'string',
    summary: 'Output format: yaml | json (json = a v1 List).',
    parse: t.oneOf(OUTPUTS),
    default: 'yaml',
  },
  {
    key: 'outputDir',
    flag: 'output-dir',
    group: 'output',
    flagKind: 'string',
    summary: 'Write one file per resource plus a kustomization.yaml into this directory instead of stdout.',
    parse: t.line,
  },
];

export const SETTINGS_BY_KEY: ReadonlyMap<string, Setting> = new Map(
  SETTINGS.map((setting) => [setting.key, setting]),
);
