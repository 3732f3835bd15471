import type { RenderModel } from '../renderers/model.js';
import type { BootstrapOptions } from './bootstrap.js';

/**
 * From the values model `render` builds (renderers/model.ts) to the harness's bootstrap options: the
 * filter gets exactly the configuration JSON render prints (model.filterConfigJson) and the root id
 * render sets, and the callout cluster render names (e.g. outbound|8444||back-python…) is a real
 * cluster pointing at `calloutUrl`. So what runs here is what a mesh would run.
 */
export interface ModelTargets {
  /** The built filter (code.local). */
  wasmPath: string;
  /** Where requests go after the filter. */
  upstream: string;
  /** What the rendered callout cluster resolves to (omit it to leave the cluster undefined). */
  calloutUrl?: string;
  /** Further clusters, by name (these win over calloutUrl for the same name). */
  clusters?: Record<string, string>;
  listen?: BootstrapOptions['listen'];
}

export function bootstrapOptionsFromModel(model: RenderModel, targets: ModelTargets): BootstrapOptions {
  return {
    upstream: targets.upstream,
    listen: targets.listen,
    clusters: {
      ...(targets.calloutUrl ? { [model.callout.name]: targets.calloutUrl } : {}),
      ...targets.clusters,
    },
    wasm: {
      wasmPath: targets.wasmPath,
      pluginConfig: model.filterConfigJson,
      rootId: model.rootId,
      failOpen: model.values.failOpen,
    },
  };
}
