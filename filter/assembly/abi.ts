// The proxy-wasm ABI 0.2.0 values the filter uses, its one logging call, and the abort handler.
// The filter talks to the host through the SDK's import declarations only (imports.ts): the SDK's
// context classes, context maps and root-id registry cost about a quarter of the module and the
// filter needs none of them (index.ts dispatches the ABI callbacks itself).

import * as imports from '@solo-io/proxy-runtime/assembly/imports';

export const enum Headers {
  Continue = 0,
  StopIteration = 1,
}
export const enum Level {
  warn = 3,
  critical = 5,
}
export const OK: u32 = 0; // WasmResult Ok
export const enum MapType {
  RequestHeaders = 0,
  ResponseHeaders = 2,
  HttpCallResponseHeaders = 6,
}
export const PLUGIN_CONFIGURATION: i32 = 7; // BufferType
export const enum Metric {
  Counter = 0,
  Gauge = 1,
}

export function log(level: Level, message: string): void {
  const bytes = String.UTF8.encode(message);
  imports.proxy_log(level, changetype<usize>(bytes), bytes.byteLength);
}

// asconfig.json: --use abort=abort_proc_exit. A failed runtime check logs what failed and where at
// critical level, then ends the VM (Envoy then fails the plugin), as the SDK's handler does.
// @ts-ignore: decorator
@global
export function abort_proc_exit(message: string | null, fileName: string | null, line: u32, column: u32): void {
  let text = message !== null ? message : '';
  if (fileName !== null) text += ' at: ' + fileName + '(' + line.toString() + ':' + column.toString() + ')';
  log(Level.critical, text);
  proc_exit(255);
}

// @ts-ignore: decorator
@external('wasi_unstable', 'proc_exit')
declare function proc_exit(code: u32): void;
