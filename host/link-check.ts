// What Envoy checks before it runs a module (cpp-host WasmBase::load, V8::link, getFunctions): the
// proxy-wasm ABI version from the exports, every import against Envoy's table for that ABI (name AND
// type), and the types of the exports it calls. The host runs these on every load; the filter build
// runs them on plugin.wasm so a module Envoy would refuse never leaves the build.
import { type AbiVersion, detectAbi, envoyExportTable, envoyImportTable } from './abi.js';
import { type ModuleInfo, WasmParseError, formatSig, parseModule, sameSig } from './wasm-binary.js';

export class HostLoadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HostLoadError';
  }
}

/** Parses the sections the checks need; a module V8 could not even decode fails as in Envoy. */
export function parseModuleLikeEnvoy(bytes: Uint8Array): ModuleInfo {
  try {
    return parseModule(bytes);
  } catch (e) {
    if (e instanceof WasmParseError) throw new HostLoadError('Failed to parse corrupted Wasm module');
    throw e;
  }
}

/** Throws HostLoadError with Envoy's message when Envoy would refuse the module; returns its ABI. */
export function checkLinkable(info: ModuleInfo): AbiVersion {
  const abi = detectAbi(info.exports);
  if (!abi) throw new HostLoadError('Missing or unknown Proxy-Wasm ABI version');
  checkImports(info, abi);
  checkExports(info, abi);
  return abi;
}

/** checkLinkable on raw bytes (for build tooling). */
export function checkEnvoyLinkable(bytes: Uint8Array): AbiVersion {
  return checkLinkable(parseModuleLikeEnvoy(bytes));
}

function checkImports(info: ModuleInfo, abi: AbiVersion): void {
  const table = envoyImportTable(abi);
  for (const imp of info.imports) {
    const key = `${imp.module}.${imp.name}`;
    if (imp.kind === 'memory') continue; // cpp-host creates an imported memory
    const host = imp.kind === 'function' ? table.get(key) : undefined;
    if (!host) throw new HostLoadError(`Failed to load Wasm module due to a missing import: ${key}`);
    if (!sameSig(imp.sig!, host)) {
      const [want, has] = [formatSig(imp.sig!), formatSig(host)];
      throw new HostLoadError(
        `Failed to load Wasm module due to an import type mismatch: ${key}, want: ${want}, but host exports: ${has}`,
      );
    }
  }
}

function checkExports(info: ModuleInfo, abi: AbiVersion): void {
  if (!info.exports.some((e) => e.kind === 'memory'))
    throw new HostLoadError('Wasm module is missing memory export.');
  const expected = envoyExportTable(abi);
  const fns = new Map(info.exports.filter((e) => e.kind === 'function').map((e) => [e.name, e.sig!]));
  const check = (name: string): boolean => {
    const sig = fns.get(name);
    const want = expected.get(name);
    if (!sig || !want) return false;
    if (!sameSig(sig, want)) {
      throw new HostLoadError(
        `Bad function signature for: ${name}, want: ${formatSig(want)}, but the module exports: ${formatSig(sig)}`,
      );
    }
    return true;
  };
  // WasmBase::getFunctions order: entry points, malloc (or its alias), then the proxy_* callbacks.
  if (check('_initialize')) {
    if (!check('main')) check('__main_void');
  } else {
    check('_start');
  }
  if (!check('malloc') && !check('proxy_on_memory_allocate')) {
    throw new HostLoadError('Wasm module is missing malloc function.');
  }
  for (const name of fns.keys())
    if (
      name.startsWith('proxy_on_') ||
      name.startsWith('envoy_on_') ||
      name === 'proxy_validate_configuration'
    )
      check(name);
}
