import type { RenderedDocument } from '../document.js';
import type { RenderModel } from '../model.js';
import { renderEnvoyExtensionPolicy } from './envoyextensionpolicy.js';
import { renderEnvoyPatchPolicy } from './envoypatchpolicy.js';

/** Target `envoy-gateway`: the EnvoyExtensionPolicy, and the EnvoyPatchPolicy that adds the callout cluster unless --callout-cluster names an existing one. */
export function renderTarget(model: RenderModel): RenderedDocument[] {
  const documents = [renderEnvoyExtensionPolicy(model)];
  if (model.callout.provision.kind === 'strict-dns') documents.push(renderEnvoyPatchPolicy(model));
  return documents;
}
