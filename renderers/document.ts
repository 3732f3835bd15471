import type { RenderModel } from './model.js';

/** One rendered Kubernetes resource: its text as printed, and what it is for messages/file names. */
export interface RenderedDocument {
  apiVersion: string;
  kind: string;
  name: string;
  namespace: string;
  text: string;
}

/** A target renders the model into its resource kinds, main resource first. */
export type TargetRenderer = (model: RenderModel) => RenderedDocument[];
