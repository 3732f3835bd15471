// The callout filter: for each (sampled) request, `fanOut` HTTP calls to `cluster`, either
// fire-and-forget (async) or holding the stream until they all finished (blocking).
//
// Request path cost is kept to a handful of host calls: one proxy_get_header_map_pairs when headers
// are propagated, one proxy_http_call per callout, and per reply one
// proxy_get_header_map_value(":status"). Metrics are published by the root's tick (metrics.ts), and
// nothing is logged per request. Async callouts with the request trigger keep no per-stream state
// at all; a stream object exists only where the filter must come back to the stream (blocking mode,
// response trigger).

import * as imports from '@solo-io/proxy-runtime/assembly/imports';
import { Headers as FilterHeadersStatusValues, Level, log, MapType, OK, PLUGIN_CONFIGURATION } from './abi';
import { free } from './malloc';
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
  FLUSH_PERIOD_MS,
  flushMetrics,
  IN_FLIGHT,
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
let rootId: u32 = 0; // the root context configured last
let inFlight: u32 = 0; // callouts dispatched and not answered, in this VM
let sampleAccumulator: u64 = 0;

// Blocking mode only: which stream waits for which callout token. Async callouts need no record.
// A stream takes its entries out when it ends, so the map holds live streams only; a root context
// that goes away (plugin replaced, VM shut down) needs nothing here, as Envoy deletes a root only
// after its streams.
const waiting = new Map<u32, MeshwasmStream>();
// The streams the filter must come back to (blocking mode, response trigger), by context id.
const streams = new Map<u32, MeshwasmStream>();

/** proxy_on_configure: reads, validates and applies the plugin configuration. */
export function rootConfigure(root_context_id: u32, configuration_size: u32): bool {
  rootId = root_context_id;
  defineMetrics();
  imports.proxy_set_tick_period_milliseconds(FLUSH_PERIOD_MS);
  configured = false;
  let bytes = new ArrayBuffer(0);
  if (configuration_size > 0) {
    store<u32>(OUT_PTR, 0);
    store<u32>(OUT_SIZE, 0);
    if (
      imports.proxy_get_buffer_bytes(PLUGIN_CONFIGURATION, 0, configuration_size, OUT_PTR, OUT_SIZE) != OK
    ) {
      return reject('configuration: the host did not provide it');
    }
    const p = load<u32>(OUT_PTR);
    if (p != 0) {
      // config.ts keeps the bytes (its string values point into them) until the next configure.
      const size = load<u32>(OUT_SIZE);
      bytes = new ArrayBuffer(size);
      memory.copy(changetype<usize>(bytes), p, size);
      free(p);
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
  if (waiting.size > 0 && waiting.has(token)) {
    const stream = waiting.get(token);
    waiting.delete(token);
    stream.calloutFinished(ok);
  }
}

/** proxy_on_request_headers: sampling, then the callouts now or a stream to come back to. */
export function onRequestHeaders(context_id: u32): FilterHeadersStatusValues {
  if (!configured || !enabled || !sampled()) return FilterHeadersStatusValues.Continue;
  if (blocking || onResponse) {
    const stream = new MeshwasmStream(context_id);
    streams.set(context_id, stream);
    return stream.onRequestHeaders();
  }
  // Async, request trigger: fire and forget; nothing about the stream is needed later.
  const host = readPropagated();
  dispatch(compose(), null);
  if (host != 0) free(host);
  return FilterHeadersStatusValues.Continue;
}

/** proxy_on_response_headers: only streams the filter remembered have anything to do here. */
export function onResponseHeaders(context_id: u32): FilterHeadersStatusValues {
  if (streams.size == 0 || !streams.has(context_id)) return FilterHeadersStatusValues.Continue;
  return streams.get(context_id).onResponseHeaders();
}

/**
 * proxy_on_delete: a stream ended (its callouts still count when they answer, but nothing is
 * written to it any more, and its replies no longer look for it), or the root context went away
 * (its plugin was removed, or the VM shuts down): what the metrics have not published yet is
 * published now.
 */
export function onDelete(context_id: u32): void {
  if (streams.size > 0 && streams.has(context_id)) {
    streams.get(context_id).end();
    streams.delete(context_id);
  } else if (context_id == rootId) {
    flushMetrics();
  }
}

/** proxy_on_tick: the root's timer (FLUSH_PERIOD_MS) publishes the metrics. */
export function rootTick(): void {
  flushMetrics();
}

// Deterministic: exactly floor(n * rate) of the first n requests are sampled.
function sampled(): bool {
  if (sampleAll) return true;
  sampleAccumulator += sampleNumerator;
  if (sampleAccumulator < SAMPLE_DENOMINATOR) {
    bump(SKIPPED_SAMPLING, fanOut);
    return false;
  }
  sampleAccumulator -= SAMPLE_DENOMINATOR;
  return true;
}

// Selects the request headers to propagate (callout.ts `select`). Envoy forgets the request headers
// once the request-headers callback returns, so this runs there. Returns the host's buffer that the
// selection points into (0 if none): the caller frees it once the selection has been used.
function readPropagated(): usize {
  select(0, 0, false);
  if (!propagates) return 0;
  store<u32>(OUT_PTR, 0);
  store<u32>(OUT_SIZE, 0);
  if (imports.proxy_get_header_map_pairs(MapType.RequestHeaders, OUT_PTR, OUT_SIZE) != OK) return 0;
  const host = load<u32>(OUT_PTR);
  if (host != 0) select(host, load<u32>(OUT_SIZE), true);
  return host;
}

// What the last dispatch did, for the stream that fired it.
let dispatchedAttempted: u32 = 0;
let dispatchedPending: u32 = 0;
let dispatchedRefused: u32 = 0;

// Issues up to fanOut callouts with the composed header pairs (maxInFlight permitting) and counts
// them. A blocking stream is recorded against each token so that the replies find it.
function dispatch(headers: usize, waiter: MeshwasmStream | null): void {
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
      if (waiter !== null) waiter.awaitToken(pending, load<u32>(TOKEN));
      pending++;
    } else {
      refused++; // unknown cluster, bad headers, no healthy upstream: Envoy never calls back
    }
  }
  bump(STARTED, attempted);
  bump(IN_FLIGHT, pending);
  bump(FAILED, refused);
  bump(SKIPPED_IN_FLIGHT, fanOut - attempted);
  dispatchedAttempted = attempted;
  dispatchedPending = pending;
  dispatchedRefused = refused;
}

// Invalid configuration: one critical line naming the field; Envoy then rejects the plugin.
function reject(problem: string): bool {
  log(Level.critical, 'meshwasm: invalid configuration: ' + problem);
  return false;
}

// A stream the filter comes back to: blocking mode (it waits for its callouts) or the response
// trigger (it fires when the response headers arrive). It exists from its request headers to
// proxy_on_delete.
class MeshwasmStream {
  constructor(public context_id: u32) {}
  alive: bool = true;
  triggered: bool = false;
  outcomeAdded: bool = false;
  waitingOn: u8 = WAIT_NONE;
  attempted: u32 = 0;
  pending: u32 = 0;
  succeeded: u32 = 0;
  failed: u32 = 0;
  captured: ArrayBuffer | null = null; // propagated request headers kept for a response trigger
  tokens: usize = 0; // blocking: the tokens of its dispatched callouts (a heap block of fanOut u32s)
  tokenCount: u32 = 0;

  // Blocking: callout number i went out with this token; its reply finds the stream through it.
  awaitToken(i: u32, token: u32): void {
    if (this.tokens == 0) this.tokens = heap.alloc((<usize>fanOut) << 2);
    store<u32>(this.tokens + ((<usize>i) << 2), token);
    this.tokenCount = i + 1;
    waiting.set(token, this);
  }

  // The stream is gone for the host: forget it, and take its unanswered tokens out of `waiting`.
  end(): void {
    this.alive = false;
    this.captured = null;
    if (this.tokens == 0) return;
    for (let i: u32 = 0; i < this.tokenCount; i++) {
      const token = load<u32>(this.tokens + ((<usize>i) << 2));
      if (waiting.has(token) && waiting.get(token) === this) waiting.delete(token);
    }
    heap.free(this.tokens);
    this.tokens = 0;
  }

  onRequestHeaders(): FilterHeadersStatusValues {
    const host = readPropagated();
    if (onResponse) {
      // The request headers are gone by the response: keep a copy of the selected ones.
      if (selectedCount > 0) this.captured = selectionPairs();
      if (host != 0) free(host);
      return FilterHeadersStatusValues.Continue;
    }
    const headers = compose();
    if (host != 0) free(host);
    return this.fire(headers, WAIT_REQUEST);
  }

  onResponseHeaders(): FilterHeadersStatusValues {
    if (!configured || !enabled) return FilterHeadersStatusValues.Continue;
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

  // Issues the callouts and decides whether the stream waits.
  private fire(headers: usize, phase: u8): FilterHeadersStatusValues {
    this.triggered = true;
    dispatch(headers, blocking ? this : null);
    this.attempted = dispatchedAttempted;
    this.pending = dispatchedPending;
    this.failed = dispatchedRefused;
    if (!blocking) return FilterHeadersStatusValues.Continue;
    if (this.pending > 0) {
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
