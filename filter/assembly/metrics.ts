// The filter's metrics, defined once per VM with proxy_define_metric. Envoy exposes them as
// wasmcustom.<name> internally and as <name> on /stats (Prometheus: meshwasm_callouts_started, ...).
//
// The request path makes no metric host call: it adds to deltas in guest memory, and the root
// context's tick publishes them every FLUSH_PERIOD_MS (one proxy_increment_metric per metric that
// changed, netted: a callout dispatched and answered within one period costs the in-flight gauge
// nothing), and once more when the root goes away. In Envoy each proxy_increment_metric is an
// atomic update of a shared stat behind a crossing out of the VM; four of them per request were
// about a tenth of the filter's CPU per request (bench/envoy.mjs), so metrics are published at most
// FLUSH_PERIOD_MS late instead. Every publication applies all deltas in one tick, so each snapshot
// still satisfies started = succeeded + failed + in_flight.

import * as imports from '@solo-io/proxy-runtime/assembly/imports';
import { Metric, OK } from './abi';

/** How often the tick publishes the metrics (and how stale they may be). */
export const FLUSH_PERIOD_MS: u32 = 100;

// Metric slots (an index into the id and delta tables below).
export const STARTED: u32 = 0; // counter: callouts attempted (dispatched or refused at dispatch)
export const SUCCEEDED: u32 = 1; // counter: callouts answered with a 2xx :status
export const FAILED: u32 = 2; // counter: non-2xx, timeout (504), connect failure (503), reset, dispatch error
export const SKIPPED_IN_FLIGHT: u32 = 3; // counter: not attempted because maxInFlight callouts were in flight
export const SKIPPED_SAMPLING: u32 = 4; // counter: not attempted because the request was not sampled
export const IN_FLIGHT: u32 = 5; // gauge: callouts dispatched and not yet answered, in this VM
const SLOTS: u32 = 6;

const IDS = memory.data(SLOTS * 4); // Envoy's metric id per slot
const PENDING = memory.data(SLOTS * 8); // i64 deltas not yet published, per slot
let memoryId: u32 = 0; // gauge: this VM's Wasm linear memory, in bytes
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
  // The shared prefix once: string literals are stored as UTF-16, and the module has a size budget.
  const callouts = 'meshwasm.callouts.';
  store<u32>(IDS + (STARTED << 2), define(Metric.Counter, callouts + 'started'));
  store<u32>(IDS + (SUCCEEDED << 2), define(Metric.Counter, callouts + 'succeeded'));
  store<u32>(IDS + (FAILED << 2), define(Metric.Counter, callouts + 'failed'));
  store<u32>(IDS + (SKIPPED_IN_FLIGHT << 2), define(Metric.Counter, callouts + 'skipped.in_flight'));
  store<u32>(IDS + (SKIPPED_SAMPLING << 2), define(Metric.Counter, callouts + 'skipped.sampling'));
  store<u32>(IDS + (IN_FLIGHT << 2), define(Metric.Gauge, callouts + 'in_flight'));
  memoryId = define(Metric.Gauge, 'meshwasm.vm.memory_bytes');
  flushMetrics();
}

/** Adds `delta` to a metric's unpublished delta: no host call. */
// @ts-ignore: decorator
@inline export function bump(slot: u32, delta: i64): void {
  const at = PENDING + (<usize>slot << 3);
  store<i64>(at, load<i64>(at) + delta);
}

let memoryPages: i32 = 0;

/**
 * Publishes the deltas (one proxy_increment_metric per metric whose delta is not zero; Envoy
 * refuses counter increments <= 0, and counters only ever grow) and the memory gauge when the
 * linear memory has grown.
 */
export function flushMetrics(): void {
  for (let slot: u32 = 0; slot < SLOTS; slot++) {
    const at = PENDING + (<usize>slot << 3);
    const delta = load<i64>(at);
    if (delta == 0) continue;
    store<i64>(at, 0);
    imports.proxy_increment_metric(load<u32>(IDS + (<usize>slot << 2)), delta);
  }
  const pages = memory.size();
  if (pages == memoryPages) return;
  memoryPages = pages;
  imports.proxy_record_metric(memoryId, <u64>pages << 16);
}
