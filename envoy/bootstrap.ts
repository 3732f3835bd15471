import { isIP } from 'node:net';

/**
 * Writes the Envoy bootstrap (envoy.config.bootstrap.v3.Bootstrap as JSON) that runs the filter the
 * way a mesh proxy does: one loopback listener with the HTTP connection manager, the Wasm HTTP filter
 * on the V8 runtime, then the router to the upstream; one cluster per callout cluster name (the real
 * Istio names, e.g. outbound|8444||back-python.jump-app-dev.svc.cluster.local) pointing at the URL
 * it stands for; admin on loopback. Ports may be 0: Envoy picks free ones and envoy/process.ts reads
 * them back from the admin API, so nothing races for a port between choosing and binding it.
 */

/** The Wasm HTTP filter's own settings (envoy.extensions.wasm.v3.PluginConfig). */
export interface WasmFilterOptions {
  /** code.local: a .wasm file on this machine. */
  wasmPath: string;
  /** The configuration JSON the plugin reads in on_configure, byte for byte as render emits it. */
  pluginConfig: string;
  /** Default: meshwasm (the root context the filter registers). */
  rootId?: string;
  /** Envoy fail_open: pass requests through when the VM has failed (default fail closed). */
  failOpen?: boolean;
}

export interface BootstrapOptions {
  /** Where the listener binds; port 0 = a free one. Default 127.0.0.1:0. */
  listen?: { host?: string; port?: number };
  /** Admin port on 127.0.0.1; 0 (default) = a free one. */
  adminPort?: number;
  /** Where requests go after the filter: http://HOST:PORT (the router's cluster). */
  upstream: string;
  /** Callout cluster name -> http(s)://HOST:PORT it resolves to. */
  clusters?: Record<string, string>;
  /** The filter to run; omit it for a plain proxy (a baseline). */
  wasm?: WasmFilterOptions;
  /**
   * HTTP filters to run instead of the one built from `wasm` (e.g. the filter a render printed),
   * as envoy.extensions.filters.network.http_connection_manager.v3.HttpFilter JSON. The router is
   * appended.
   */
  httpFilters?: object[];
  /** More clusters, as envoy.config.cluster.v3.Cluster JSON (e.g. a rendered CLUSTER patch). */
  extraClusters?: object[];
  /**
   * Access log, one line per request in `format` (default DEFAULT_ACCESS_LOG_FORMAT): to Envoy's
   * stderr (what startEnvoy's onLog sees), or to the file at `path`.
   */
  accessLog?: { path?: string; format?: string };
  /** Envoy's route timeout, ms (Envoy's default is 15 s; 0 = none). */
  routeTimeoutMs?: number;
}

/** The router's cluster for the upstream (the workload behind the proxy). */
export const UPSTREAM_CLUSTER = 'meshwasm-upstream';

const WASM_FILTER_TYPE = 'type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm';

/** One access-log line per request: method, path, status, duration, upstream time, request id. */
export const DEFAULT_ACCESS_LOG_FORMAT =
  '%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %RESPONSE_CODE% %DURATION%ms flags=%RESPONSE_FLAGS% id=%REQ(X-REQUEST-ID)%\n';

/** A cluster for `url` (http or https): STATIC for an IP literal, STRICT_DNS for a host name. */
export function clusterFor(name: string, url: string): Record<string, unknown> {
  const parsed = new URL(url);
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')
    throw new Error(
      `cluster ${name}: only http:// and https:// URLs can back a cluster (got ${parsed.protocol})`,
    );
  const tls = parsed.protocol === 'https:';
  // URL keeps IPv6 literals in brackets; Envoy wants the bare address.
  const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1');
  const port = Number(parsed.port || (tls ? 443 : 80));
  const cluster: Record<string, unknown> = {
    name,
    type: isIP(host) ? 'STATIC' : 'STRICT_DNS',
    connect_timeout: '1s',
    load_assignment: {
      cluster_name: name,
      endpoints: [{ lb_endpoints: [{ endpoint: { address: socketAddress(host, port) } }] }],
    },
  };
  if (tls) {
    cluster.transport_socket = {
      name: 'envoy.transport_sockets.tls',
      typed_config: {
        '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
        sni: host,
      },
    };
  }
  return cluster;
}

function socketAddress(address: string, port: number) {
  return { socket_address: { address, port_value: port } };
}

/** The Wasm HTTP filter for `wasm`, configured as the renderers configure it (code.local). */
export function wasmHttpFilter(wasm: WasmFilterOptions): object {
  const rootId = wasm.rootId ?? 'meshwasm';
  return {
    name: 'envoy.filters.http.wasm',
    typed_config: {
      '@type': WASM_FILTER_TYPE,
      config: {
        name: rootId,
        root_id: rootId,
        vm_config: {
          vm_id: rootId,
          runtime: 'envoy.wasm.runtime.v8',
          code: { local: { filename: wasm.wasmPath } },
        },
        configuration: {
          '@type': 'type.googleapis.com/google.protobuf.StringValue',
          value: wasm.pluginConfig,
        },
        fail_open: wasm.failOpen ?? false,
      },
    },
  };
}

export function writeBootstrap(options: BootstrapOptions): Record<string, unknown> {
  const upstream = new URL(options.upstream);
  if (upstream.protocol !== 'http:')
    throw new Error(`upstream: only http:// is supported (got ${upstream.protocol})`);
  const filters = options.httpFilters ?? (options.wasm ? [wasmHttpFilter(options.wasm)] : []);
  const route: Record<string, unknown> = { cluster: UPSTREAM_CLUSTER };
  if (options.routeTimeoutMs !== undefined) route.timeout = `${options.routeTimeoutMs / 1000}s`;
  const hcm: Record<string, unknown> = {
    '@type':
      'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
    stat_prefix: 'meshwasm',
    codec_type: 'AUTO',
    route_config: {
      name: 'local',
      virtual_hosts: [{ name: 'all', domains: ['*'], routes: [{ match: { prefix: '/' }, route }] }],
    },
    http_filters: [
      ...filters,
      {
        name: 'envoy.filters.http.router',
        typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' },
      },
    ],
  };
  if (options.accessLog) {
    const { path, format } = options.accessLog;
    const log_format = { text_format_source: { inline_string: format ?? DEFAULT_ACCESS_LOG_FORMAT } };
    // Envoy's own stderr logger: a /dev/stderr file cannot be opened when stderr is a socket (as
    // it is under Node's spawn).
    hcm.access_log = [
      path === undefined
        ? {
            name: 'envoy.access_loggers.stderr',
            typed_config: {
              '@type': 'type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StderrAccessLog',
              log_format,
            },
          }
        : {
            name: 'envoy.access_loggers.file',
            typed_config: {
              '@type': 'type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog',
              path,
              log_format,
            },
          },
    ];
  }
  const clusters = [
    clusterFor(UPSTREAM_CLUSTER, options.upstream),
    ...Object.entries(options.clusters ?? {}).map(([name, url]) => clusterFor(name, url)),
    ...(options.extraClusters ?? []),
  ];
  return {
    admin: { address: socketAddress('127.0.0.1', options.adminPort ?? 0) },
    static_resources: {
      listeners: [
        {
          name: 'meshwasm',
          address: socketAddress(options.listen?.host ?? '127.0.0.1', options.listen?.port ?? 0),
          filter_chains: [
            {
              filters: [{ name: 'envoy.filters.network.http_connection_manager', typed_config: hcm }],
            },
          ],
        },
      ],
      clusters,
    },
  };
}
