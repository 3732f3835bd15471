import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/**
 * Loads an ES module (one of meshwasm's own, or a package's) the fastest way this Node can.
 * Module loading is most of a render's wall time (bench/cli.mjs), and where Node can require() ES
 * modules (20.19+: process.features.require_module) that links a module graph synchronously, about
 * a third faster than import() for large graphs such as the @kubernetes-models classes and ~5% of
 * a whole render for meshwasm's own modules. Otherwise, and when running from the TypeScript
 * sources (tests: only the test runner's import() hooks can load .ts files), or for a module
 * graph with top-level await (which require() refuses), it is import(). Either way the module is
 * the same one, from the same module cache.
 */

const require = createRequire(import.meta.url);
const fromSources = import.meta.url.endsWith('.ts');

export async function loadModule<T>(url: string | URL): Promise<T> {
  if (process.features.require_module && !fromSources) {
    try {
      return require(fileURLToPath(url)) as T;
    } catch (error) {
      /* c8 ignore next -- no module meshwasm loads this way awaits at top level today */
      if ((error as NodeJS.ErrnoException).code !== 'ERR_REQUIRE_ASYNC_MODULE') throw error;
    }
  }
  return (await import(url.toString())) as T;
}
