// meshwasm callout filter: the wasm module's entry point. It exports the proxy-wasm ABI 0.2.0
// callbacks the filter acts on and routes each to the root (filter.ts) or to the stream it names.
// Callbacks it has no use for are not exported, and Envoy skips a callback a module does not
// export: configuration validation, queues, bodies, trailers, gRPC, access log, and also
// proxy_on_context_create and proxy_on_done. Without proxy_on_context_create the module keeps its
// own per-stream state (cpp-host: "the in-VM SDK is responsible"), so an async request with the
// request trigger, which needs none, costs no callback at stream start and no object; streams
// that must be remembered (blocking mode, response trigger) get one in proxy_on_request_headers.
// Without proxy_on_done Envoy goes straight to proxy_on_delete, where a remembered stream is
// forgotten and the root publishes its last metrics. The root's tick publishes the metrics.
// The root id (Envoy root_id / WasmPlugin pluginName / EnvoyExtensionPolicy rootID) is "meshwasm";
// like the SDK with one registered root context, any root id (Envoy's default is blank) selects it.

export { malloc } from './malloc';
import {
  onDelete,
  onRequestHeaders,
  onResponseHeaders,
  rootConfigure,
  rootHttpCallResponse,
  rootTick,
} from './filter';

export function proxy_abi_version_0_2_0(): void {}

export function proxy_on_vm_start(_root_context_id: u32, _configuration_size: u32): u32 {
  return 1;
}

export function proxy_on_configure(root_context_id: u32, configuration_size: u32): u32 {
  return rootConfigure(root_context_id, configuration_size) ? 1 : 0;
}

export function proxy_on_tick(_root_context_id: u32): void {
  rootTick();
}

export function proxy_on_request_headers(context_id: u32, _headers: u32, _end_of_stream: u32): u32 {
  return onRequestHeaders(context_id);
}

export function proxy_on_response_headers(context_id: u32, _headers: u32, _end_of_stream: u32): u32 {
  return onResponseHeaders(context_id);
}

// Envoy binds http calls to the root context: every reply comes here.
export function proxy_on_http_call_response(
  _context_id: u32,
  token: u32,
  headers: u32,
  _body_size: u32,
  _trailers: u32,
): void {
  rootHttpCallResponse(token, headers);
}

export function proxy_on_delete(context_id: u32): void {
  onDelete(context_id);
}
