import type { RenderedDocument } from '../document.js';
import type { RenderModel } from '../model.js';
import { renderTemplate } from '../templates.js';

/**
 * WasmPlugin (extensions.istio.io/v1alpha1), gated by mesh version (mesh-targets.md §0, §a):
 * selector for sidecars and classic gateways; targetRef (Istio 1.20/1.21, OSSM 2.6) or targetRefs
 * (1.22+) for Gateway API gateways and waypoints; match SERVER on sidecars so the filter runs on
 * back-golang's inbound listener only; failStrategy from 1.19 (FAIL_RELOAD from 1.27);
 * pluginName = the filter's root id.
 */

function url(model: RenderModel): string {
  const { module } = model;
  if (module.kind === 'file') return `file://${module.path}`;
  return module.url;
}

function failStrategy(model: RenderModel): string | null {
  const { failOpen, failReload } = model.values;
  if (failReload) return 'FAIL_RELOAD';
  if (failOpen) return 'FAIL_OPEN';
  return null;
}

export function renderWasmPlugin(model: RenderModel): RenderedDocument {
  const { attachment, mesh, module, values } = model;
  const refs = attachment.targetRefs?.map(({ group, kind, name }) => ({ group, kind, name })) ?? null;
  // Before Istio 1.22 only the singular targetRef exists (combinations.ts allows one ref then).
  const singular = refs !== null && !mesh.features.targetRefs;
  const text = renderTemplate('istio/wasmplugin', {
    name: model.name,
    namespace: model.namespace,
    labels: model.labels,
    selector: attachment.selector ?? null,
    targetRef: singular ? refs[0] : null,
    targetRefs: singular ? null : refs,
    match: model.shape === 'sidecar' ? [{ mode: 'SERVER' }] : null,
    url: url(model),
    sha256: module.sha256 ?? null,
    imagePullPolicy: values.pullPolicy ?? null,
    imagePullSecret: values.pullSecret ?? null,
    phase: values.phase ?? null,
    priority: values.priority ?? null,
    failStrategy: failStrategy(model),
    pluginName: model.rootId,
    pluginConfig: model.filterConfig,
  });
  return {
    apiVersion: 'extensions.istio.io/v1alpha1',
    kind: 'WasmPlugin',
    name: model.name,
    namespace: model.namespace,
    text,
  };
}
