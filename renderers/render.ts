import type { RenderedDocument, TargetRenderer } from './document.js';
import { RenderBug } from './errors.js';
import { loadModule } from './load-module.js';
import { buildModel, type RenderModel } from './model.js';
import type { Target } from './settings.js';
import { embeddedFilterConfigs, firstDifference, parseManifestText, validateObjects } from './validate.js';
import type { ResolvedValues } from './values.js';

/**
 * render: values → model → the target's resources → parsed back and validated → RenderResult.
 * Nothing is returned (so nothing gets printed) unless the output passes every check; a failure
 * there is a meshwasm bug, not a usage error. Target modules are loaded on demand (load-module.ts)
 * so a render loads only its own templates and @kubernetes-models classes.
 */

const TARGETS: Record<Target, () => Promise<{ renderTarget: TargetRenderer }>> = {
  ossm: () => loadModule(new URL('./istio/index.js', import.meta.url)),
  envoyfilter: () => loadModule(new URL('./envoyfilter/index.js', import.meta.url)),
  'envoy-gateway': () => loadModule(new URL('./envoy-gateway/index.js', import.meta.url)),
};

/** What oci/pin.ts resolves a tag to (PinnedImage: `reference` = registry/repo[:tag]@sha256:…). */
export interface PinnedReference {
  reference: string;
  digest: string;
}

export interface RenderOptions {
  /**
   * Resolves an image tag to its manifest digest (oci/pin.ts pinImageReference). Without it an
   * image given without a digest is rendered as is, with a warning.
   */
  pinImage?: (ref: string) => Promise<PinnedReference>;
}

export interface RenderResult {
  model: RenderModel;
  documents: RenderedDocument[];
  /** The documents parsed back, in order (what -o json prints). */
  objects: unknown[];
  /** Warnings and notes for stderr. */
  notes: string[];
}

async function pinned(model: RenderModel, pinImage: RenderOptions['pinImage']): Promise<RenderModel> {
  const { module } = model;
  if (!pinImage || module.kind !== 'oci' || module.pinned) return model;
  const pin = await pinImage(module.url);
  const reference = pin.reference.replace(/^oci:\/\//, '');
  return {
    ...model,
    module: {
      ...module,
      url: `oci://${reference}`,
      reference,
      sha256: pin.digest.replace(/^sha256:/, ''),
      pinned: true,
    },
    notes: model.notes.filter((note) => !note.includes('is not pinned')),
  };
}

/** Parses the rendered text back and checks it is exactly what the model asked for, and valid. */
export async function checkRendered(documents: RenderedDocument[], model: RenderModel): Promise<unknown[]> {
  const { objects, problems } = parseManifestText(formatYaml(documents), 'rendered output');
  if (problems.length > 0) throw new RenderBug(problems.join('\n'));
  if (objects.length !== documents.length)
    throw new RenderBug(`rendered ${documents.length} documents but ${objects.length} parse back`);
  documents.forEach((document, i) => {
    const object = objects[i] as Record<string, unknown>;
    const metadata = (object.metadata ?? {}) as Record<string, unknown>;
    const seen = {
      apiVersion: object.apiVersion,
      kind: object.kind,
      name: metadata.name,
      namespace: metadata.namespace,
    };
    const diff = firstDifference(seen, {
      apiVersion: document.apiVersion,
      kind: document.kind,
      name: document.name,
      namespace: document.namespace,
    });
    if (diff) throw new RenderBug(`${document.kind} ${document.name} parses back with a different ${diff}`);
    for (const { config } of embeddedFilterConfigs(object)) {
      // The EnvoyFilter carries the JSON text itself: it must be the canonical bytes.
      const expected = typeof config === 'string' ? model.filterConfigJson : model.filterConfig;
      const where = firstDifference(config, expected);
      if (where !== undefined)
        throw new RenderBug(
          `${document.kind} ${document.name}: the filter configuration parses back different at ${where}`,
        );
    }
  });
  const invalid = await validateObjects(objects, { mesh: model.mesh.version });
  if (invalid.length > 0) throw new RenderBug(invalid.join('\n'));
  return objects;
}

export async function render(resolved: ResolvedValues, options: RenderOptions = {}): Promise<RenderResult> {
  const model = await pinned(buildModel(resolved), options.pinImage);
  const { renderTarget } = await TARGETS[model.target]();
  const documents = renderTarget(model);
  const objects = await checkRendered(documents, model);
  return { model, documents, objects, notes: model.notes };
}

/** Documents separated by `---`, each ending in a newline. */
export function formatYaml(documents: RenderedDocument[]): string {
  return documents.map((document) => document.text).join('---\n');
}

/** A v1 List of the parsed-back objects. */
export function formatJson(objects: unknown[]): string {
  return `${JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }, null, 2)}\n`;
}
