import type { RenderedDocument } from '../document.js';
import type { RenderModel } from '../model.js';
import { renderEnvoyFilter } from './envoyfilter.js';
import { calloutProvision, wasmPatches } from './patches.js';

/** Target `envoyfilter`: one EnvoyFilter carrying the wasm filter, plus whatever creates the callout cluster. */
export function renderTarget(model: RenderModel): RenderedDocument[] {
  const provision = calloutProvision(model);
  return [
    renderEnvoyFilter({
      name: model.name,
      namespace: model.namespace,
      labels: model.labels,
      annotations: provision.annotations,
      attachment: model.envoyFilterAttachment,
      priority: model.values.priority,
      configPatches: [...provision.patches, ...wasmPatches(model)],
    }),
  ];
}
