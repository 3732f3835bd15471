import type { RenderedDocument } from '../document.js';
import type { Attachment } from '../model.js';
import { renderTemplate } from '../templates.js';

/**
 * EnvoyFilter (networking.istio.io/v1alpha3). The `envoyfilter` target's main resource, and the
 * companion the `ossm` target adds on waypoints to make the callout cluster exist. What goes in
 * the patches is built in patches.ts.
 */

export interface ConfigPatch {
  applyTo: 'HTTP_FILTER' | 'EXTENSION_CONFIG' | 'CLUSTER';
  match?: Record<string, unknown>;
  operation: 'INSERT_BEFORE' | 'ADD';
  value: Record<string, unknown>;
}

export interface EnvoyFilterSpec {
  name: string;
  namespace: string;
  labels: Record<string, string>;
  annotations?: Record<string, string>;
  attachment: Attachment;
  priority?: number;
  configPatches: ConfigPatch[];
}

export function renderEnvoyFilter(spec: EnvoyFilterSpec): RenderedDocument {
  const text = renderTemplate('envoyfilter/envoyfilter', {
    name: spec.name,
    namespace: spec.namespace,
    labels: spec.labels,
    annotations: spec.annotations ?? null,
    workloadSelector: spec.attachment.selector ?? null,
    targetRefs: spec.attachment.targetRefs?.map(({ group, kind, name }) => ({ group, kind, name })) ?? null,
    priority: spec.priority ?? null,
    configPatches: spec.configPatches.map((patch) => ({ match: null, ...patch })),
  });
  return {
    apiVersion: 'networking.istio.io/v1alpha3',
    kind: 'EnvoyFilter',
    name: spec.name,
    namespace: spec.namespace,
    text,
  };
}
