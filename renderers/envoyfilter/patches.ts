import { strictDnsCluster } from '../envoy-cluster.js';
import type { RenderModel } from '../model.js';
import type { Shape } from '../settings.js';
import { Verbatim } from '../yaml-encode.js';
import type { ConfigPatch } from './envoyfilter.js';

/**
 * EnvoyFilter patches for the filter (mesh-targets.md §d). The module source decides the form:
 * - oci://   → the ECDS pair (EXTENSION_CONFIG + an HTTP_FILTER with config_discovery): Envoy
 *              cannot fetch OCI images, istio-agent can, and it only intercepts ECDS;
 * - https:// → an inline filter with code.remote (sha256 is mandatory) and a CLUSTER ADD for the
 *              module host, because Envoy fetches http_uri through a named cluster;
 * - file     → an inline filter with code.local (the file must exist in the proxy container).
 * Contexts: SIDECAR_INBOUND on sidecars and on waypoints (istiod patches waypoint listeners and
 * clusters as inbound), GATEWAY on gateways.
 */

const WASM_TYPE = 'type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm';
// On a failed fetch istio-agent substitutes an RBAC filter under the same ECDS name (allow-all when
// failing open, deny-all otherwise), so the filter must accept both types.
const RBAC_TYPE = 'type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC';

export function listenerContext(shape: Shape): 'SIDECAR_INBOUND' | 'GATEWAY' {
  return shape === 'gateway' || shape === 'gateway-api' ? 'GATEWAY' : 'SIDECAR_INBOUND';
}

/** CLUSTER ADD contexts: sidecars take SIDECAR_OUTBOUND adds, waypoints only SIDECAR_INBOUND ones. */
export function clusterContext(shape: Shape): 'SIDECAR_OUTBOUND' | 'SIDECAR_INBOUND' | 'GATEWAY' {
  if (shape === 'waypoint') return 'SIDECAR_INBOUND';
  return shape === 'sidecar' ? 'SIDECAR_OUTBOUND' : 'GATEWAY';
}

/** Envoy filter / ECDS resource name: namespace-qualified, as istio's docs recommend. */
export function filterName(model: RenderModel): string {
  return `${model.namespace}.${model.name}`;
}

export function moduleClusterName(model: RenderModel): string {
  return `${model.name}-module`;
}

function code(model: RenderModel): Record<string, unknown> {
  const { module } = model;
  switch (module.kind) {
    case 'oci':
      // Istio's own WasmPlugin ECDS uses the same placeholder cluster "_": istio-agent fetches the
      // image and rewrites this to code.local before Envoy sees it.
      return {
        remote: {
          http_uri: { uri: module.url, cluster: '_', timeout: '30s' },
          ...(module.sha256 ? { sha256: module.sha256 } : {}),
        },
      };
    case 'http':
      return {
        remote: {
          http_uri: { uri: module.url, cluster: moduleClusterName(model), timeout: '30s' },
          sha256: module.sha256,
          retry_policy: { num_retries: 3 },
        },
      };
    case 'file':
      return { local: { filename: module.path } };
  }
}

function failurePolicy(model: RenderModel): Record<string, unknown> {
  const { failOpen, failReload } = model.values;
  // Istio 1.27+ proxies have PluginConfig.failure_policy; older ones only the (now deprecated)
  // fail_open bool. Nothing is printed for the default, fail closed.
  if (failReload) return { failure_policy: 'FAIL_RELOAD' };
  if (!failOpen) return {};
  return model.mesh.features.failReload ? { failure_policy: 'FAIL_OPEN' } : { fail_open: true };
}

export function wasmConfig(model: RenderModel): Record<string, unknown> {
  return {
    name: filterName(model),
    root_id: model.rootId,
    vm_config: { runtime: 'envoy.wasm.runtime.v8', code: code(model) },
    configuration: {
      '@type': 'type.googleapis.com/google.protobuf.StringValue',
      value: new Verbatim(model.filterConfigJson),
    },
    ...failurePolicy(model),
  };
}

function beforeRouter(model: RenderModel, chain?: string): Record<string, unknown> {
  return {
    context: listenerContext(model.shape),
    listener: {
      filterChain: {
        ...(chain ? { name: chain } : {}),
        filter: {
          name: 'envoy.filters.network.http_connection_manager',
          subFilter: { name: 'envoy.filters.http.router' },
        },
      },
    },
  };
}

/** One HTTP_FILTER insertion per targeted waypoint chain, or one for every chain of the selected proxies. */
function insertions(model: RenderModel, value: Record<string, unknown>): ConfigPatch[] {
  const chains = model.envoyFilterAttachment.chains ?? [undefined];
  return chains.map((chain) => ({
    applyTo: 'HTTP_FILTER' as const,
    match: beforeRouter(model, chain),
    operation: 'INSERT_BEFORE' as const,
    value,
  }));
}

export function wasmPatches(model: RenderModel): ConfigPatch[] {
  const name = filterName(model);
  if (model.module.kind === 'oci') {
    return [
      {
        applyTo: 'EXTENSION_CONFIG',
        operation: 'ADD',
        value: { name, typed_config: { '@type': WASM_TYPE, config: wasmConfig(model) } },
      },
      ...insertions(model, {
        name,
        config_discovery: {
          config_source: { ads: {}, initial_fetch_timeout: '0s' },
          type_urls: [WASM_TYPE, RBAC_TYPE],
        },
      }),
    ];
  }
  const patches: ConfigPatch[] = [];
  if (model.module.kind === 'http') {
    const { host, port, ca } = model.module;
    patches.push({
      applyTo: 'CLUSTER',
      match: { context: clusterContext(model.shape) },
      operation: 'ADD',
      value: strictDnsCluster(moduleClusterName(model), host, port, ca ? { tls: { ca } } : {}),
    });
  }
  patches.push(
    ...insertions(model, { name, typed_config: { '@type': WASM_TYPE, config: wasmConfig(model) } }),
  );
  return patches;
}

/** What makes the callout cluster exist, as EnvoyFilter metadata and patches (empty when nothing is needed). */
export function calloutProvision(model: RenderModel): {
  annotations?: Record<string, string>;
  patches: ConfigPatch[];
} {
  const { provision, name } = model.callout;
  if (provision.kind === 'referenced-service') {
    return { annotations: { 'envoyfilter.istio.io/referenced-services': provision.host }, patches: [] };
  }
  if (provision.kind === 'strict-dns') {
    return {
      patches: [
        {
          applyTo: 'CLUSTER',
          match: { context: clusterContext(model.shape) },
          operation: 'ADD',
          value: strictDnsCluster(name, provision.host, provision.port),
        },
      ],
    };
  }
  return { patches: [] };
}
