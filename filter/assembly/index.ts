// meshwasm callout filter: the wasm module's entry point.
// Re-exporting the SDK's proxy.ts turns the proxy-wasm ABI (proxy_on_*, malloc) into module exports.
export * from '@solo-io/proxy-runtime/assembly/proxy';
import { registerRootContext, RootContext } from '@solo-io/proxy-runtime/assembly';
import { MeshwasmRoot } from './filter';

// The root id (Envoy root_id / WasmPlugin pluginName / EnvoyExtensionPolicy rootID) is "meshwasm".
registerRootContext((context_id: u32): RootContext => new MeshwasmRoot(context_id), 'meshwasm');
