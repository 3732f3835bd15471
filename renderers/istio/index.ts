import type { RenderedDocument } from '../document.js';
import { renderEnvoyFilter } from '../envoyfilter/envoyfilter.js';
import { calloutProvision } from '../envoyfilter/patches.js';
import type { RenderModel } from '../model.js';
import { renderWasmPlugin } from './wasmplugin.js';

/**
 * Target `ossm`: a WasmPlugin. On a waypoint the callout cluster does not exist by itself, so an
 * EnvoyFilter attached to the same targets goes with it: the referenced-services annotation
 * (Istio 1.26+) or a CLUSTER ADD (mesh-targets.md §e).
 */
export function renderTarget(model: RenderModel): RenderedDocument[] {
  const documents = [renderWasmPlugin(model)];
  const provision = calloutProvision(model);
  if (provision.annotations || provision.patches.length > 0) {
    documents.push(
      renderEnvoyFilter({
        name: `${model.name}-callout`,
        namespace: model.namespace,
        labels: model.labels,
        annotations: provision.annotations,
        attachment: model.envoyFilterAttachment,
        configPatches: provision.patches,
      }),
    );
  }
  return documents;
}
