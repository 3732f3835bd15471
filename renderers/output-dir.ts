import { mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import type { RenderedDocument } from './document.js';
import { UsageError } from './errors.js';
import { block } from './yaml-encode.js';

/**
 * --output-dir: one file per resource (<kind>-<name>.yaml, or .json with -o json) plus a
 * kustomization.yaml listing them in apply order, so `kubectl apply -k DIR` works. Files are
 * written only after render has validated everything.
 */
export function writeOutputDir(
  dir: string,
  documents: RenderedDocument[],
  objects: unknown[],
  format: 'yaml' | 'json',
): string[] {
  let isDirectory = true;
  try {
    isDirectory = statSync(dir).isDirectory();
  } catch {
    // Does not exist yet: created below.
  }
  if (!isDirectory)
    throw new UsageError(`--output-dir: ${dir} exists and is not a directory; choose a directory path`);
  try {
    mkdirSync(dir, { recursive: true });
  } catch (error) {
    throw new UsageError(
      `--output-dir: cannot create ${dir} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}); choose a writable directory`,
    );
  }
  const files = documents.map((document) => `${document.kind.toLowerCase()}-${document.name}.${format}`);
  documents.forEach((document, i) => {
    const content = format === 'json' ? `${JSON.stringify(objects[i], null, 2)}\n` : document.text;
    writeFileSync(join(dir, files[i]), content);
  });
  const kustomization = {
    apiVersion: 'kustomize.config.k8s.io/v1beta1',
    kind: 'Kustomization',
    resources: files,
  };
  writeFileSync(join(dir, 'kustomization.yaml'), `${block(kustomization, 0).join('\n')}\n`);
  return [...files, 'kustomization.yaml'].map((file) => join(dir, file));
}
