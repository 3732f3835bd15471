import type { RenderedDocument } from '../document.js';
import type { RenderModel } from '../model.js';
import { renderTemplate } from '../templates.js';

/**
 * EnvoyExtensionPolicy (gateway.envoyproxy.io/v1alpha1), mesh-targets.md §f: targetRefs to the
 * HTTPRoute (shape route) or Gateway (gateway-api); code Image (sha256 = manifest digest) or HTTP
 * (sha256 of the .wasm); rootID = the filter's root id; config = the filter configuration;
 * failOpen. Envoy Gateway's image URL form has no oci:// scheme.
 */
export function renderEnvoyExtensionPolicy(model: RenderModel): RenderedDocument {
  const { module, values } = model;
  /* c8 ignore next -- combinations.ts rejects --file for envoy-gateway */
  if (module.kind === 'file') throw new Error('Envoy Gateway has no file module source');
  const sha256 = module.sha256 ? { sha256: module.sha256 } : {};
  const text = renderTemplate('envoy-gateway/envoyextensionpolicy', {
    name: model.name,
    namespace: model.namespace,
    labels: model.labels,
    targetRefs: (model.attachment.targetRefs ?? []).map(({ group, kind, name }) => ({ group, kind, name })),
    wasmName: model.name,
    rootId: model.rootId,
    codeType: module.kind === 'oci' ? 'Image' : 'HTTP',
    image:
      module.kind === 'oci'
        ? {
            url: module.reference,
            ...sha256,
            ...(values.pullSecret ? { pullSecretRef: { kind: 'Secret', name: values.pullSecret } } : {}),
          }
        : null,
    http: module.kind === 'http' ? { url: module.url, ...sha256 } : null,
    pullPolicy: values.pullPolicy ?? null,
    config: model.filterConfig,
    failOpen: values.failOpen,
  });
  return {
    apiVersion: 'gateway.envoyproxy.io/v1alpha1',
    kind: 'EnvoyExtensionPolicy',
    name: model.name,
    namespace: model.namespace,
    text,
  };
}
