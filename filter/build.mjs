// Builds the filter: AssemblyScript -> filter/build/plugin.wasm (+ plugin.wasm.sha256), then refuses
// the result unless Envoy would load it as an ABI 0.2.0 module (the host's own load-time checks:
// every import and its type against Envoy's table, the exports Envoy calls) and the size budget holds.
// Those checks live in host/link-check.ts, so the build needs the compiled host (npm run build:ts).
//
//   node filter/build.mjs            (npm run build:filter)
//   import { buildFilter } from './filter/build.mjs'; await buildFilter({ outDir, quiet })

import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const FILTER_DIR = path.dirname(fileURLToPath(import.meta.url));
// asc resolves ~lib/<package> from node_modules under its base directory, which defaults to the
// working directory: the package's own root makes `meshwasm build` work from any folder (npm link).
const PACKAGE_ROOT = path.dirname(FILTER_DIR);
export const SIZE_BUDGET = 24 * 1024;

/**
 * Compiles one AssemblyScript entry with filter/asconfig.json (target release): the filter's
 * toolchain and options. Returns the module bytes; diagnostics go to stderr unless quiet.
 * @param {{entry: string, outFile: string, quiet?: boolean}} options
 * @returns {Promise<Buffer>}
 */
export async function compileAssemblyScript({ entry, outFile, quiet = false }) {
  const { default: asc } = await import('assemblyscript/asc');
  let diagnostics = '';
  const sink = {
    write(chunk) {
      diagnostics += String(chunk);
      return true;
    },
  };
  const { error } = await asc.main(
    [
      path.resolve(entry),
      '--baseDir',
      PACKAGE_ROOT,
      '--config',
      path.join(FILTER_DIR, 'asconfig.json'),
      '--target',
      'release',
      '--outFile',
      path.resolve(outFile),
      '--noColors',
    ],
    { stdout: sink, stderr: sink },
  );
  if (error) {
    await rm(outFile, { force: true });
    throw new Error(
      `meshwasm: compiling ${path.relative(process.cwd(), entry)} failed: ${error.message}\n${diagnostics}`,
    );
  }
  if (!quiet && diagnostics.trim()) process.stderr.write(diagnostics);
  return readFile(outFile);
}

/**
 * Builds filter/build/plugin.wasm (or <outDir>/plugin.wasm) and its .sha256 (hex), after checking
 * that Envoy would link it (ABI 0.2.0 imports only) and that it fits the size budget.
 * @param {{outDir?: string, quiet?: boolean}} [options] outDir defaults to filter/build
 * @returns {Promise<{wasmPath: string, size: number, sha256: string}>}
 */
export async function buildFilter({ outDir = path.join(FILTER_DIR, 'build'), quiet = false } = {}) {
  await mkdir(outDir, { recursive: true });
  const wasmPath = path.join(path.resolve(outDir), 'plugin.wasm');
  const tmpPath = `${wasmPath}.tmp-${process.pid}`;
  const bytes = await compileAssemblyScript({
    entry: path.join(FILTER_DIR, 'assembly', 'index.ts'),
    outFile: tmpPath,
    quiet,
  });
  const problem = await envoyLoadProblem(bytes);
  if (problem) {
    await rm(tmpPath, { force: true });
    throw new Error(`meshwasm: the compiled filter would not load in Envoy: ${problem}`);
  }
  if (bytes.length > SIZE_BUDGET) {
    await rm(tmpPath, { force: true });
    throw new Error(`meshwasm: plugin.wasm is ${bytes.length} bytes, over the ${SIZE_BUDGET}-byte budget`);
  }
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  await rename(tmpPath, wasmPath);
  await writeFile(`${wasmPath}.sha256`, `${sha256}\n`);
  if (!quiet) {
    process.stderr.write(
      `meshwasm: built ${path.relative(process.cwd(), wasmPath)} (${bytes.length} bytes, sha256 ${sha256})\n`,
    );
  }
  return { wasmPath, size: bytes.length, sha256 };
}

/**
 * Why Envoy would refuse the module as an ABI 0.2.0 filter, or undefined when it would load it.
 * @param {Uint8Array} bytes
 * @returns {Promise<string | undefined>}
 */
export async function envoyLoadProblem(bytes) {
  const linkCheck = path.join(FILTER_DIR, '..', 'dist', 'host', 'link-check.js');
  const { checkEnvoyLinkable, HostLoadError } = await import(pathToFileURL(linkCheck).href).catch(() => {
    throw new Error(
      `meshwasm: ${path.relative(process.cwd(), linkCheck)} is missing; run \`npm run build:ts\` before building the filter`,
    );
  });
  try {
    const abi = checkEnvoyLinkable(bytes);
    return abi === '0.2.0' ? undefined : `it exports ABI ${abi}, the filter is built for 0.2.0`;
  } catch (error) {
    if (error instanceof HostLoadError) return error.message;
    throw error;
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  buildFilter().catch((err) => {
    process.stderr.write(`${err.message}\n`);
    process.exit(1);
  });
}
