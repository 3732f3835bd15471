import type { RenderedDocument } from '../document.js';
import { strictDnsCluster } from '../envoy-cluster.js';
import type { RenderModel } from '../model.js';
import { renderTemplate } from '../templates.js';

/**
 * EnvoyPatchPolicy that adds the callout cluster to the Gateway's Envoy (mesh-targets.md §f):
 * Envoy Gateway creates clusters only for route backends, so without it http_call gets
 * "bad argument". `op: add` with an empty path makes `value` a whole new Cluster. It lives in the
 * Gateway's namespace and is named after the cluster, so filters that call the same Service share
 * it. Envoy Gateway ignores it unless extensionApis.enableEnvoyPatchPolicy is on (render says so).
 * With mergeGateways all Gateways of a class share one Envoy, and Envoy Gateway only applies patch
 * policies aimed at the GatewayClass (internal/gatewayapi/envoypatchpolicy.go), so it targets that.
 */
export function renderEnvoyPatchPolicy(model: RenderModel): RenderedDocument {
  const { callout, values } = model;
  /* c8 ignore next -- envoy-gateway/index.ts only calls this for strict-dns clusters */
  if (callout.provision.kind !== 'strict-dns') throw new Error('EnvoyPatchPolicy needs a cluster to add');
  const namespace = values.gatewayNamespace;
  const text = renderTemplate('envoy-gateway/envoypatchpolicy', {
    name: callout.name,
    namespace,
    labels: model.labels,
    targetKind: values.egMerge === 'gateways' ? 'GatewayClass' : 'Gateway',
    targetName: values.egMerge === 'gateways' ? values.gatewayClass : values.gateway,
    clusterName: callout.name,
    cluster: strictDnsCluster(callout.name, callout.provision.host, callout.provision.port),
  });
  return {
    apiVersion: 'gateway.envoyproxy.io/v1alpha1',
    kind: 'EnvoyPatchPolicy',
    name: callout.name,
    namespace,
    text,
  };
}
