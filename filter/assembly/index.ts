// meshwasm callout filter: the wasm module's entry point. It exports the proxy-wasm ABI 0.2.0
// callbacks the filter acts on and routes each to the root (filter.ts) or to the stream it names.
// Callbacks it has no use for (configuration validation, ticks, queues, bodies, trailers, gRPC,
// access log) are not exported:
// Envoy skips a callback a module does not export and continues the stream.
// The root id (Envoy root_id / WasmPlugin pluginName / EnvoyExtensionPolicy rootID) is "meshwasm";
// like the SDK with one registered root context, any root id (Envoy's default is blank) selects it.

export { malloc } from '@solo-io/proxy-runtime/assembly/malloc';
import { Headers } from './abi';
import { MeshwasmStream, rootConfigure, rootDone, rootHttpCallResponse, streams } from './filter';

export function proxy_abi_version_0_2_0(): void {}

export function proxy_on_vm_start(_root_context_id: u32, _configuration_size: u32): u32 {
  return 1;
}

export function proxy_on_configure(_root_context_id: u32, configuration_size: u32): u32 {
  return rootConfigure(configuration_size) ? 1 : 0;
}

export function proxy_on_context_create(context_id: u32, root_context_id: u32): void {
  if (root_context_id != 0) streams.set(context_id, new MeshwasmStream(context_id));
}

export function proxy_on_request_headers(context_id: u32, _headers: u32, _end_of_stream: u32): u32 {
  return streams.has(context_id) ? streams.get(context_id).onRequestHeaders() : Headers.Continue;
}

export function proxy_on_response_headers(context_id: u32, _headers: u32, _end_of_stream: u32): u32 {
  return streams.has(context_id) ? streams.get(context_id).onResponseHeaders() : Headers.Continue;
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

export function proxy_on_done(context_id: u32): u32 {
  if (streams.has(context_id)) streams.get(context_id).alive = false;
  else rootDone();
  return 1;
}

export function proxy_on_delete(context_id: u32): void {
  if (!streams.has(context_id)) return;
  const stream = streams.get(context_id);
  stream.alive = false;
  stream.captured = null;
  streams.delete(context_id);
}
