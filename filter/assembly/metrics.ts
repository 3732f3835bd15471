// The filter's metrics, defined once per VM with proxy_define_metric. Envoy exposes them as
// wasmcustom.<name> internally and as <name> on /stats (Prometheus: meshwasm_callouts_started, ...).
// Increments batch a whole request's worth of callouts into one host call per metric.

import * as imports from "@solo-io/proxy-runtime/assembly/imports";
import { Metric, OK } from "./abi";

export let STARTED: u32 = 0;            // counter: callouts attempted (dispatched or refused at dispatch)
export let SUCCEEDED: u32 = 0;          // counter: callouts answered with a 2xx :status
export let FAILED: u32 = 0;             // counter: non-2xx, timeout (504), connect failure (503), reset, dispatch error
export let SKIPPED_IN_FLIGHT: u32 = 0;  // counter: not attempted because maxInFlight callouts were in flight
export let SKIPPED_SAMPLING: u32 = 0;   // counter: not attempted because the request was not sampled
export let IN_FLIGHT: u32 = 0;          // gauge: callouts dispatched and not yet answered, in this VM
export let MEMORY: u32 = 0;             // gauge: this VM's Wasm linear memory, in bytes

let defined = false;
const ID_SLOT = memory.data(4);

function define(type: Metric, name: string): u32 {
  const bytes = String.UTF8.encode(name);
  store<u32>(ID_SLOT, 0);
  if (imports.proxy_define_metric(type, changetype<usize>(bytes), bytes.byteLength, ID_SLOT) != OK) return 0;
  return load<u32>(ID_SLOT);
}

/** Defines every metric (once per VM; a reconfiguration keeps the same series). */
export function defineMetrics(): void {
  if (defined) return;
  defined = true;
  STARTED = define(Metric.Counter, "meshwasm.callouts.started");
  SUCCEEDED = define(Metric.Counter, "meshwasm.callouts.succeeded");
  FAILED = define(Metric.Counter, "meshwasm.callouts.failed");
  SKIPPED_IN_FLIGHT = define(Metric.Counter, "meshwasm.callouts.skipped.in_flight");
  SKIPPED_SAMPLING = define(Metric.Counter, "meshwasm.callouts.skipped.sampling");
  IN_FLIGHT = define(Metric.Gauge, "meshwasm.callouts.in_flight");
  MEMORY = define(Metric.Gauge, "meshwasm.vm.memory_bytes");
  recordMemory();
}

let memoryPages: i32 = 0;

/** Sets the memory gauge when the linear memory has grown: a compare per call, a host call per growth. */
export function recordMemory(): void {
  const pages = memory.size();
  if (pages == memoryPages) return;
  memoryPages = pages;
  imports.proxy_record_metric(MEMORY, <u64>pages << 16);
}

/** Adds `delta` to a metric; zero deltas cost no host call (Envoy refuses counter increments <= 0). */
// @ts-ignore: decorator
@inline export function bump(id: u32, delta: i64): void {
  if (delta != 0) imports.proxy_increment_metric(id, delta);
}
