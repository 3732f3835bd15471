// The compiled filter (filter/build/plugin.wasm, built by `npm run build`) in the Node host, with the
// host's record of every host function the filter calls, so tests can assert what it did and did
// not do (e.g. nothing written to a stream that has ended).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type HostOptions, ProxyWasmHost } from '../../host/index.js';

// MESHWASM_PLUGIN_WASM points the tests at another build (e.g. a deliberately broken one, to check
// that the tests catch it).
export const PLUGIN_PATH =
  process.env.MESHWASM_PLUGIN_WASM ??
  path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../filter/build/plugin.wasm');
export const PLUGIN = readFileSync(PLUGIN_PATH);

/** The reference scenario's Envoy cluster for back-python (an Istio outbound cluster name). */
export const CLUSTER = 'outbound|8444||back-python.jump-app-dev.svc.cluster.local';
export const CLUSTER_HOST = 'back-python.jump-app-dev.svc.cluster.local';

export interface HostCall {
  name: string;
  args: number[];
  contextId: number;
}

export interface FilterHost {
  host: ProxyWasmHost;
  /** Every host function the filter has called so far, in order (host option traceHostCalls). */
  calls(): HostCall[];
  /** startVm() && startPlugin(), as Envoy does after loading. */
  configured: boolean;
}

/**
 * Loads the filter with `config` (a JSON value, or raw bytes/string for the configuration buffer),
 * runs on_vm_start and on_configure, and returns the host whatever on_configure answered.
 */
export async function loadFilter(
  config: unknown,
  opts: Omit<HostOptions, 'wasm' | 'pluginConfig'> & { raw?: boolean } = {},
): Promise<FilterHost> {
  const { raw, ...hostOpts } = opts;
  const pluginConfig = raw ? (config as string | Uint8Array) : JSON.stringify(config);
  const host = await ProxyWasmHost.create({
    rootId: 'meshwasm',
    clusters: { [CLUSTER]: 'manual' },
    traceHostCalls: true,
    ...hostOpts,
    wasm: PLUGIN,
    pluginConfig,
  });
  const configured = host.startVm() && host.startPlugin();
  const calls = () =>
    host.getHostCallTrace().map((c) => ({ name: c.fn, args: c.args, contextId: c.contextId }));
  return { host, calls, configured };
}

/** Like loadFilter, but the configuration must be accepted. */
export async function startFilter(
  config: unknown,
  opts: Omit<HostOptions, 'wasm' | 'pluginConfig'> = {},
): Promise<FilterHost> {
  const f = await loadFilter(config, opts);
  if (!f.configured) {
    throw new Error(
      `configuration rejected: ${f.host
        .getLogs()
        .map((l) => l.message)
        .join(' | ')}`,
    );
  }
  return f;
}

/** Request headers as Envoy's HCM presents them for `GET /api` from a client with tracing headers. */
export function clientRequest(extra: Array<[string, string]> = []): Array<[string, string]> {
  return [
    [':authority', 'back-golang.jump-app-dev.svc.cluster.local:8442'],
    [':path', '/api'],
    [':method', 'GET'],
    [':scheme', 'http'],
    ['user-agent', 'curl/8.5.0'],
    ['accept', '*/*'],
    ['x-request-id', 'rid-1'],
    ['traceparent', '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'],
    ['x-b3-traceid', '4bf92f3577b34da6a3ce929d0e0e4736'],
    ['x-b3-spanid', '00f067aa0ba902b7'],
    ['authorization', 'Bearer secret'],
    ['cookie', 'session=1'],
    ['proxy-authorization', 'Basic x'],
    ['x-forwarded-proto', 'http'],
    ...extra,
  ];
}

export const UPSTREAM_RESPONSE: Array<[string, string]> = [
  [':status', '200'],
  ['content-type', 'text/plain'],
  ['content-length', '2'],
];

export interface Metrics {
  started: bigint | undefined;
  succeeded: bigint | undefined;
  failed: bigint | undefined;
  skippedInFlight: bigint | undefined;
  skippedSampling: bigint | undefined;
  inFlight: bigint | undefined;
}

/** The filter's metrics, by the names it defines. */
export function metrics(host: ProxyWasmHost): Metrics {
  // The filter publishes its metrics on the root's tick (every 100 ms in Envoy and in the gateway):
  // a tick first, as if the timer had fired, then what was published.
  if (!host.isFailed()) host.tick();
  return {
    started: host.getCounter('meshwasm.callouts.started'),
    succeeded: host.getCounter('meshwasm.callouts.succeeded'),
    failed: host.getCounter('meshwasm.callouts.failed'),
    skippedInFlight: host.getCounter('meshwasm.callouts.skipped.in_flight'),
    skippedSampling: host.getCounter('meshwasm.callouts.skipped.sampling'),
    inFlight: host.getGauge('meshwasm.callouts.in_flight'),
  };
}

/** Header value (first) from a header list. */
export function header(headers: Array<[string, string]>, name: string): string | undefined {
  return headers.find(([k]) => k === name)?.[1];
}

/** Host functions that change a stream: what must never happen for a stream that has ended. */
export const STREAM_WRITES = new Set([
  'proxy_set_effective_context',
  'proxy_continue_stream',
  'proxy_close_stream',
  'proxy_send_local_response',
  'proxy_add_header_map_value',
  'proxy_replace_header_map_value',
  'proxy_remove_header_map_value',
  'proxy_set_header_map_pairs',
  'proxy_set_buffer_bytes',
]);
