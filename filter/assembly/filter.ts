// The callout filter: for each (sampled) request, `fanOut` HTTP calls to `cluster`, either
// fire-and-forget (async) or holding the stream until they all finished (blocking).
//
// Request path cost is kept to a handful of host calls: one proxy_get_header_map_pairs when headers
// are propagated, one proxy_http_call per callout, one proxy_increment_metric per metric that changed,
// and per reply one proxy_get_header_map_value(":status"). Nothing is logged per request.

import * as imports from '@solo-io/proxy-runtime/assembly/imports';
import { Headers as FilterHeadersStatusValues, Level, log, MapType, OK, PLUGIN_CONFIGURATION } from './abi';
import { free } from '@solo-io/proxy-runtime/assembly/malloc';
import { parseConfig, warnings } from './config';
import {
  blocking,
  bodyLen,
  bodyPtr,
  buildPlan,
  clusterLen,
  clusterPtr,
  compose,
  composedLength,
  enabled,
  failureStatus,
  fanOut,
  maxInFlight,
  onResponse,
  outcomeLen,
  outcomePtr,
  propagates,
  SAMPLE_DENOMINATOR,
  sampleAll,
  sampleNumerator,
  select,
  selectedCount,
  selectionPairs,
  timeoutMs,
} from './callout';
import {
  bump,
  defineMetrics,
  FAILED,
  IN_FLIGHT,
  recordMemory,
  SKIPPED_IN_FLIGHT,
  SKIPPED_SAMPLING,
  STARTED,
  SUCCEEDED,
} from './metrics';

// Out-parameters for host calls that hand back a (ptr, size) pair or a token.
const OUT_PTR = memory.data(4);
const OUT_SIZE = memory.data(4);
const TOKEN = memory.data(4);
const STATUS_KEY = memory.data<u8>([0x3a, 0x73, 0x74, 0x61, 0x74, 0x75, 0x73]); // ":status"
const DETAILS = String.UTF8.encode('meshwasm_callout_failed'); // local reply details
const REPLY_PAIRS = memory.data(4 + 8 + 257 + 24); // the failure reply's one header (the outcome)
const OUTCOME = memory.data(24); // "<succeeded>/<attempted>"

const WAIT_NONE: u8 = 0,
  WAIT_REQUEST: u8 = 1,
  WAIT_RESPONSE: u8 = 2;

let configured = false; // the last configure succeeded
let inFlight: u32 = 0; // callouts dispatched and not answered, in this VM
let sampleAccumulator: u64 = 0;

// Blocking mode only: which stream waits for which callout token. Async callouts need no record.
const waiting = new Map<u32, MeshwasmStream>();
// The live streams by context id (index.ts routes the ABI callbacks through it).
export const streams = new Map<u32, MeshwasmStream>();

/** proxy_on_configure: reads, validates and applies the plugin configuration. */
export function rootConfigure(configuration_size: u32): bool {
  defineMetrics();
  configured = false;
  let bytes = new ArrayBuffer(0);
  if (configuration_size > 0) {
    store<u32>(OUT_PTR, 0);
    if (
      imports.proxy_get_buffer_bytes(PLUGIN_CONFIGURATION, 0, configuration_size, OUT_PTR, OUT_SIZE) != OK
    ) {
      return reject('configuration: the host did not provide it');
    }
    const p = load<u32>(OUT_PTR);
    if (p != 0) {
      bytes = changetype<ArrayBuffer>(p);
      free(p); // malloc pinned it for the host; config.ts keeps a reference from now on
    }
  }
  const problem = parseConfig(bytes);
  if (problem.length > 0) return reject(problem);
  for (let i = 0; i < warnings.length; i++) log(Level.warn, warnings[i]);
  buildPlan();
  sampleAccumulator = 0;
  configured = true;
  return true;
}

/**
 * Every reply comes here (Envoy binds http calls to the root context), including the ones whose
 * stream has ended: those are counted and otherwise dropped.
 */
export function rootHttpCallResponse(token: u32, headers: u32): void {
  const ok = headers != 0 && replyIs2xx();
  if (inFlight > 0) inFlight--;
  bump(ok ? SUCCEEDED : FAILED, 1);
  bump(IN_FLIGHT, -1);
  recordMemory();
  if (waiting.size > 0 && waiting.has(token)) {
    const stream = waiting.get(token);
    waiting.delete(token);
    stream.calloutFinished(ok);
  }
}

/** VM/plugin teardown: Envoy cancels the outstanding calls and never calls back. */
export function rootDone(): void {
  waiting.clear();
}

// Invalid configuration: one critical line naming the field; Envoy then rejects the plugin.
function reject(problem: string): bool {
  log(Level.critical, 'meshwasm: invalid configuration: ' + problem);
  return false;
}

export class MeshwasmStream {
  constructor(public context_id: u32) {}
  alive: bool = true;
  sampled: bool = false;
  triggered: bool = false;
  outcomeAdded: bool = false;
  waitingOn: u8 = WAIT_NONE;
  attempted: u32 = 0;
  pending: u32 = 0;
  succeeded: u32 = 0;
  failed: u32 = 0;
  captured: ArrayBuffer | null = null; // propagated request headers kept for a response trigger

  onRequestHeaders(): FilterHeadersStatusValues {
    if (!configured || !enabled) return FilterHeadersStatusValues.Continue;
    if (!sampleAll) {
      // Deterministic: exactly floor(n * rate) of the first n requests are sampled.
      sampleAccumulator += sampleNumerator;
      if (sampleAccumulator < SAMPLE_DENOMINATOR) {
        bump(SKIPPED_SAMPLING, fanOut);
        return FilterHeadersStatusValues.Continue;
      }
      sampleAccumulator -= SAMPLE_DENOMINATOR;
    }
    this.sampled = true;
    // The headers to propagate are read now: Envoy forgets the request headers once this returns
    // Continue, so a response trigger keeps a copy.
    select(0, 0, false);
    let host: usize = 0;
    if (propagates) {
      store<u32>(OUT_PTR, 0);
      store<u32>(OUT_SIZE, 0);
      if (imports.proxy_get_header_map_pairs(MapType.RequestHeaders, OUT_PTR, OUT_SIZE) == OK) {
        host = load<u32>(OUT_PTR);
        if (host != 0) select(host, load<u32>(OUT_SIZE), true);
      }
    }
    if (onResponse) {
      if (selectedCount > 0) this.captured = selectionPairs();
      if (host != 0) free(host);
      return FilterHeadersStatusValues.Continue;
    }
    const headers = compose();
    if (host != 0) free(host);
    return this.fire(headers, WAIT_REQUEST);
  }

  onResponseHeaders(): FilterHeadersStatusValues {
    if (!configured || !enabled || !this.sampled) return FilterHeadersStatusValues.Continue;
    if (!onResponse) {
      // Blocking + request trigger: the outcome is known by now; the client's response carries it.
      if (blocking && this.triggered && !this.outcomeAdded) this.addOutcomeHeader();
      return FilterHeadersStatusValues.Continue;
    }
    if (this.triggered) return FilterHeadersStatusValues.Continue; // e.g. our own local reply
    const captured = this.captured;
    if (captured !== null) select(changetype<usize>(captured), captured.byteLength, false);
    else select(0, 0, false);
    return this.fire(compose(), WAIT_RESPONSE);
  }

  // Issues the callouts with the composed header pairs and decides whether the stream waits.
  private fire(headers: usize, phase: u8): FilterHeadersStatusValues {
    this.triggered = true;
    let attempted: u32 = 0;
    let pending: u32 = 0;
    let refused: u32 = 0;
    for (let i: u32 = 0; i < fanOut && inFlight < maxInFlight; i++) {
      attempted++;
      if (
        imports.proxy_http_call(
          clusterPtr,
          clusterLen,
          headers,
          composedLength,
          bodyPtr,
          bodyLen,
          0,
          0,
          timeoutMs,
          TOKEN,
        ) == OK
      ) {
        inFlight++;
        pending++;
        if (blocking) waiting.set(load<u32>(TOKEN), this);
      } else {
        refused++; // unknown cluster, bad headers, no healthy upstream: Envoy never calls back
      }
    }
    this.attempted = attempted;
    this.pending = pending;
    this.failed = refused;
    bump(STARTED, attempted);
    bump(IN_FLIGHT, pending);
    bump(FAILED, refused);
    bump(SKIPPED_IN_FLIGHT, fanOut - attempted);
    if (!blocking) return FilterHeadersStatusValues.Continue;
    if (pending > 0) {
      this.waitingOn = phase;
      return FilterHeadersStatusValues.StopIteration;
    }
    // Nothing to wait for (all refused at dispatch, or skipped by maxInFlight): decide now.
    return this.finish(phase) ? FilterHeadersStatusValues.Continue : FilterHeadersStatusValues.StopIteration;
  }

  /** One of this stream's blocking callouts finished. The last one resumes the stream. */
  calloutFinished(ok: bool): void {
    if (ok) this.succeeded++;
    else this.failed++;
    if (this.pending > 0) this.pending--;
    const phase = this.waitingOn;
    if (this.pending > 0 || !this.alive || phase == WAIT_NONE) return;
    this.waitingOn = WAIT_NONE;
    // The stream may be gone for the host, or the plugin reconfigured: then write nothing.
    if (!configured || imports.proxy_set_effective_context(this.context_id) != OK) return;
    if (this.finish(phase))
      imports.proxy_continue_stream(phase == WAIT_REQUEST ? 0 /* request */ : 1 /* response */);
  }

  // Every callout of this stream is done: reply with failureStatus (returns false) or let the
  // stream go on (returns true), adding the outcome header when the response headers are at hand.
  private finish(phase: u8): bool {
    if (this.failed > 0 && failureStatus != 0) {
      let pairsLen: u32 = 4;
      store<u32>(REPLY_PAIRS, 0);
      if (outcomeLen > 0) {
        // The reply carries the outcome header too.
        const valueLen = this.writeOutcome();
        store<u32>(REPLY_PAIRS, 1);
        store<u32>(REPLY_PAIRS, outcomeLen, 4);
        store<u32>(REPLY_PAIRS, valueLen, 8);
        memory.copy(REPLY_PAIRS + 12, outcomePtr, outcomeLen);
        store<u8>(REPLY_PAIRS + 12 + outcomeLen, 0);
        memory.copy(REPLY_PAIRS + 13 + outcomeLen, OUTCOME, valueLen);
        store<u8>(REPLY_PAIRS + 13 + outcomeLen + valueLen, 0);
        pairsLen = 14 + outcomeLen + valueLen;
        this.outcomeAdded = true;
      }
      imports.proxy_send_local_response(
        failureStatus,
        changetype<usize>(DETAILS),
        DETAILS.byteLength,
        0,
        0,
        REPLY_PAIRS,
        pairsLen,
        -1 /* not gRPC */,
      );
      return false;
    }
    if (phase == WAIT_RESPONSE) this.addOutcomeHeader();
    return true;
  }

  private addOutcomeHeader(): void {
    if (outcomeLen == 0) return;
    this.outcomeAdded = true;
    imports.proxy_replace_header_map_value(
      MapType.ResponseHeaders,
      outcomePtr,
      outcomeLen,
      OUTCOME,
      this.writeOutcome(),
    );
  }

  // "<succeeded>/<attempted>" in ASCII at OUTCOME; returns its length. No string allocation.
  private writeOutcome(): u32 {
    let n = writeDecimal(OUTCOME, this.succeeded);
    store<u8>(OUTCOME + n++, 0x2f);
    return n + writeDecimal(OUTCOME + n, this.attempted);
  }
}

// Reads the callout reply's :status (valid only inside proxy_on_http_call_response).
function replyIs2xx(): bool {
  store<u32>(OUT_PTR, 0);
  store<u32>(OUT_SIZE, 0);
  if (
    imports.proxy_get_header_map_value(MapType.HttpCallResponseHeaders, STATUS_KEY, 7, OUT_PTR, OUT_SIZE) !=
    OK
  )
    return false;
  const p = load<u32>(OUT_PTR);
  if (p == 0) return false;
  const ok =
    load<u32>(OUT_SIZE) == 3 &&
    load<u8>(p) == 0x32 &&
    <u32>load<u8>(p, 1) - 0x30 < 10 &&
    <u32>load<u8>(p, 2) - 0x30 < 10;
  free(p);
  return ok;
}

function writeDecimal(dst: usize, v: u32): u32 {
  let digits: u32 = 1;
  for (let t = v; t >= 10; t /= 10) digits++;
  for (let i = digits; i > 0; i--) {
    store<u8>(dst + i - 1, <u8>(0x30 + (v % 10)));
    v /= 10;
  }
  return digits;
}
