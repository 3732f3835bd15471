import { readFile } from 'node:fs/promises';

import { detectAbi } from '../../host/abi.js';
import { sha256Hex } from '../../oci/digest.js';

/** A module as `version` and `build` report it (the `wasm` object of every command's JSON). */
export interface ModuleInfo {
  path: string;
  size: number;
  sha256: string;
  /** The proxy-wasm ABI the module declares (its proxy_abi_version_* export), as Envoy detects it. */
  abi: string | null;
}

/** Describes the module at `path`, or null when there is none. */
export async function describeModule(path: string): Promise<ModuleInfo | null> {
  const bytes = await readFile(path).catch(() => undefined);
  if (!bytes) return null;
  let abi: string | null = null;
  try {
    abi = detectAbi(WebAssembly.Module.exports(new WebAssembly.Module(bytes))) ?? null;
  } catch {
    // Not a module that compiles: reported without an ABI.
  }
  return { path, size: bytes.length, sha256: sha256Hex(bytes), abi };
}
