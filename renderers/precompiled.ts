import { createRequire } from 'node:module';
import { join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

import { packagePath } from './package-root.js';

/**
 * Build-time artifacts that spare `render` compiling at start-up (ajv and the handlebars compiler
 * are among its slowest imports): renderers/precompile.ts writes them into dist/precompiled/
 * during `npm run build` — the filter-configuration validator as ajv standalone code, and the
 * templates as precompiled handlebars.
 *
 * Each artifact carries a key made of everything it was generated from (source text, compile
 * options, library version). Its consumer makes the key of what it would compile now and uses the
 * artifact only on an exact match, else compiles at run time exactly as without it: a missing or
 * stale dist/precompiled/ (an edited schema or template, no rebuild) can cost time, never change
 * a result. The key is those inputs verbatim rather than a digest of them: comparing a few KB of
 * text is free, where loading node:crypto for a hash would cost a render ~5 ms. Artifacts are
 * CommonJS so they load synchronously, where the checks need them.
 *
 * They belong to the build that wrote them: only code running from dist/ uses them. Run from the
 * TypeScript sources (tests, development), the renderers compile everything themselves; tests pass
 * an artifact directory explicitly.
 */

/** Where the build writes the artifacts. */
export function precompiledDir(): string {
  return packagePath('dist', 'precompiled');
}

/** precompiledDir() when this code is the build's (runs from dist/), else undefined. */
export function builtArtifactsDir(): string | undefined {
  return fileURLToPath(import.meta.url).startsWith(packagePath('dist') + sep) ? precompiledDir() : undefined;
}

/** The key of an artifact generated from `inputs`: unambiguous, and equal only for equal inputs. */
export function artifactKey(...inputs: string[]): string {
  return JSON.stringify(inputs);
}

const require = createRequire(import.meta.url);

/** The artifact's exports, or undefined when there is no such artifact (or no directory). */
export function loadPrecompiled<T>(file: string, dir: string | undefined): T | undefined {
  if (dir === undefined) return undefined;
  try {
    return require(join(dir, file)) as T;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND') return undefined;
    /* c8 ignore next 2 -- a corrupt artifact is a build bug; say so rather than hide it */
    throw error;
  }
}
