// The filter manager around one wasm filter: Envoy's HCM filter chain reduced to this filter, for
// one HTTP stream at a time. It turns the guest's header/body/trailer statuses into what Envoy
// forwards, holds or buffers, resumes a stopped direction on proxy_continue_stream, sends local
// replies (through the encoder path or directly, depending on how far the response got), and runs
// the access-log and teardown callbacks when the stream completes.

import {
  type AbiVersion,
  FilterDataStatus,
  FilterHeadersStatus,
  FilterTrailersStatus,
  GrpcStatus,
} from './abi.js';
import { type Bytes, concat, toBytes } from './bytes.js';
import type { GuestCalls } from './guest-calls.js';
import { HeaderMap } from './header-map.js';
import type { Headers } from './pairs.js';
import {
  type BodyRef,
  Direction,
  EMPTY,
  type LocalReplyRecord,
  StreamContext,
  type StreamInfoOptions,
  type StreamSink,
  historyLimits,
} from './stream.js';

/** A translated FilterHeadersStatus / FilterDataStatus / FilterTrailersStatus value. */
export type Action = number;

const HTTP_TO_GRPC: Record<number, number> = {
  400: GrpcStatus.Internal,
  401: GrpcStatus.Unauthenticated,
  403: GrpcStatus.PermissionDenied,
  404: GrpcStatus.Unimplemented,
  429: GrpcStatus.Unavailable,
  502: GrpcStatus.Unavailable,
  503: GrpcStatus.Unavailable,
  504: GrpcStatus.Unavailable,
};

export interface FilterManagerOptions {
  abi: AbiVersion;
  /** After a trap, pass requests through instead of answering 503 wasm_fail_stream. */
  failOpen: boolean;
  /** Wall clock for stream info (start and completion times). */
  now: () => bigint;
  /** The start-time stamp a new stream records (HostOptions.now, else Date.now()). */
  streamClock: () => bigint | number;
  streamDefaults: Required<StreamInfoOptions>;
}

export class FilterManager {
  private nextStreamId = 2;
  private nextConnectionId = 1;
  /** Completed streams, kept for inspection (see historyLimits). */
  private readonly finished = new Map<number, StreamContext>();
  /** Ids in `finished`, in the order the streams completed (live part from finishedHead on). */
  private finishedOrder: number[] = [];
  private finishedHead = 0;
  private readonly abi: AbiVersion;
  private readonly failOpen: boolean;
  private readonly now: () => bigint;
  private readonly streamClock: () => bigint | number;
  private readonly streamDefaults: Required<StreamInfoOptions>;

  constructor(
    private readonly vm: GuestCalls,
    opts: FilterManagerOptions,
  ) {
    this.abi = opts.abi;
    this.failOpen = opts.failOpen;
    this.now = opts.now;
    this.streamClock = opts.streamClock;
    this.streamDefaults = opts.streamDefaults;
  }

  /** Allocates the next stream context id (2, 3, ...). on_context_create runs at request headers. */
  initializeHttpContext(info?: StreamInfoOptions): number {
    this.vm.assertUsable();
    const id = this.nextStreamId++;
    const s = new StreamContext(
      id,
      this.nextConnectionId++,
      info ? { ...this.streamDefaults, ...info } : this.streamDefaults,
      this.streamClock(),
    );
    // wasm_filter.h createFilter: a failed VM with fail_open means no filter at all.
    if (this.vm.failed && this.failOpen) s.bypass = true;
    this.vm.contexts.set(id, s);
    return id;
  }

  /** Connects a stream to a sink (the gateway); direct-drive tests don't need one. */
  attachStreamSink(id: number, sink: StreamSink): void {
    this.stream(id).sink = sink;
  }

  private stream(id: number): StreamContext {
    const c = this.vm.contexts.get(id);
    if (!(c instanceof StreamContext)) {
      throw new Error(
        `no HTTP stream context ${id} (call initializeHttpContext first; completed streams are gone)`,
      );
    }
    return c;
  }

  /** ContextBase::onCreate. */
  private onCreate(s: StreamContext): void {
    if (!this.vm.failed && !s.createdInVm && this.vm.fn.proxy_on_context_create) {
      this.vm.guestCall(s, 'proxy_on_context_create', this.vm.fn.proxy_on_context_create, [s.id, 1]);
      s.createdInVm = true;
      this.vm.afterCall();
      return;
    }
    s.createdInVm = true;
  }

  /** CHECK_FAIL_HTTP: true when the VM is failed (and the stream got its 503 unless fail-open). */
  private checkFail(s: StreamContext): boolean {
    if (!this.vm.failed) return false;
    if (this.failOpen) return true;
    if (!s.streamFailed) {
      s.streamFailed = true;
      this.failStream(s);
    }
    return true;
  }

  /** Envoy Context::failStream(Request): 503, empty body, gRPC Unavailable, details wasm_fail_stream. */
  private failStream(s: StreamContext): void {
    if (s.failureReplySent || s.completed) return;
    s.failureReplySent = true;
    this.sendLocalReply(s, {
      statusCode: 503,
      details: 'wasm_fail_stream',
      body: EMPTY,
      headers: [],
      grpcStatus: GrpcStatus.Unavailable,
    });
  }

  callOnRequestHeaders(id: number, headers: Headers, endOfStream: boolean): Action {
    const s = this.stream(id);
    return this.decodeOrEncodeHeaders(s, s.req, headers, endOfStream);
  }

  callOnResponseHeaders(id: number, headers: Headers, endOfStream: boolean): Action {
    const s = this.stream(id);
    if (s.localReply || s.resetDetails) return FilterHeadersStatus.Continue;
    return this.decodeOrEncodeHeaders(s, s.resp, headers, endOfStream);
  }

  callOnRequestBody(id: number, body: Bytes, endOfStream: boolean): Action {
    const s = this.stream(id);
    if (s.decodingAborted || s.resetDetails) return FilterDataStatus.Continue;
    s.bytesReceived += toBytes(body).length;
    return this.onData(s, s.req, toBytes(body), endOfStream);
  }

  callOnResponseBody(id: number, body: Bytes, endOfStream: boolean): Action {
    const s = this.stream(id);
    if (s.localReply || s.resetDetails) return FilterDataStatus.Continue;
    s.bytesSent += toBytes(body).length;
    return this.onData(s, s.resp, toBytes(body), endOfStream);
  }

  callOnRequestTrailers(id: number, trailers: Headers): Action {
    const s = this.stream(id);
    if (s.decodingAborted || s.resetDetails) return FilterTrailersStatus.Continue;
    return this.onTrailers(s, s.req, trailers);
  }

  callOnResponseTrailers(id: number, trailers: Headers): Action {
    const s = this.stream(id);
    if (s.localReply || s.resetDetails) return FilterTrailersStatus.Continue;
    return this.onTrailers(s, s.resp, trailers);
  }

  private isReq(s: StreamContext, d: Direction): boolean {
    return d === s.req;
  }

  private decodeOrEncodeHeaders(s: StreamContext, d: Direction, headers: Headers, eos: boolean): Action {
    this.vm.assertUsable();
    const isReq = this.isReq(s, d);
    s.phase = isReq ? 'request_headers' : 'response_headers';
    d.headers = new HeaderMap(headers);
    d.endSeen = eos;
    if (s.bypass) {
      this.releaseHeaders(s, d, eos);
      return FilterHeadersStatus.Continue;
    }
    // decodeHeaders: onCreate() first; encodeHeaders: nothing if never created or after failStream.
    if (isReq) this.onCreate(s);
    else if (!s.createdInVm || s.failureReplySent) {
      this.releaseHeaders(s, d, eos);
      return FilterHeadersStatus.Continue;
    }
    d.headersRef = true;
    const status = this.runCallback(
      s,
      isReq ? 'proxy_on_request_headers' : 'proxy_on_response_headers',
      this.abi === '0.1.0' ? [s.id, d.headers.size] : [s.id, d.headers.size, eos ? 1 : 0],
      'headers',
    );
    this.vm.stopNextIteration = false;
    // Envoy maps the proxy-wasm status onto Http::FilterHeadersStatus; ContinueAndEndStream -> Continue.
    if (status === FilterHeadersStatus.Continue || status === FilterHeadersStatus.ContinueAndEndStream) {
      d.headersRef = false;
      this.releaseHeaders(s, d, eos);
    } else if (!d.complete && !(isReq && s.decodingAborted)) {
      d.stopped = 'headers';
    }
    this.vm.drainAfterActions();
    return status;
  }

  /**
   * One headers/body/trailers callback, its result translated like cpp-host convertVmCallResultTo*.
   * A VM that failed before or during the call gives Envoy's failStream answer instead: Continue
   * (0 in every enum) when fail-open, else the kind's stop status.
   */
  private runCallback(
    s: StreamContext,
    name: string,
    args: number[],
    kind: 'headers' | 'data' | 'trailers',
  ): number {
    if (!this.checkFail(s)) {
      const f = this.vm.fn[name];
      const r = f ? this.vm.guestCall(s, name, f, args) : 0;
      if (!this.checkFail(s)) {
        return kind === 'headers'
          ? this.convertHeaders(r)
          : kind === 'data'
            ? this.convertData(r)
            : this.convertTrailers(r);
      }
    }
    if (this.failOpen) return FilterHeadersStatus.Continue;
    return kind === 'headers'
      ? FilterHeadersStatus.StopAllIterationAndWatermark
      : kind === 'data'
        ? FilterDataStatus.StopIterationNoBuffer
        : FilterTrailersStatus.StopIteration;
  }

  private convertHeaders(r: number): number {
    if (this.vm.stopNextIteration || r > FilterHeadersStatus.StopAllIterationAndWatermark) {
      return FilterHeadersStatus.StopAllIterationAndWatermark;
    }
    if (r === FilterHeadersStatus.StopIteration) return FilterHeadersStatus.StopAllIterationAndWatermark;
    return r;
  }

  private convertData(r: number): number {
    if (this.vm.stopNextIteration || r > FilterDataStatus.StopIterationNoBuffer)
      return FilterDataStatus.StopIterationNoBuffer;
    return r;
  }

  private convertTrailers(r: number): number {
    if (this.vm.stopNextIteration || r > FilterTrailersStatus.StopIteration)
      return FilterTrailersStatus.StopIteration;
    return r;
  }

  private onData(s: StreamContext, d: Direction, chunk: Uint8Array, eos: boolean): Action {
    this.vm.assertUsable();
    const isReq = this.isReq(s, d);
    s.phase = isReq ? 'request_body' : 'response_body';
    d.endSeen ||= eos;
    if (s.bypass) {
      this.releaseData(s, d, chunk, eos);
      return FilterDataStatus.Continue;
    }
    if (!s.createdInVm || (!isReq && s.failureReplySent)) {
      this.releaseData(s, d, chunk, eos);
      return FilterDataStatus.Continue;
    }
    if (d.stopped === 'headers') {
      // Iteration stopped for all frame types: the filter manager buffers, the filter sees nothing yet.
      d.buffered = concat(d.buffered, chunk);
      return FilterDataStatus.StopIterationAndBuffer;
    }
    return this.deliverData(s, d, chunk, eos);
  }

  /** Context::decodeData/encodeData + the filter manager's reaction to the status. */
  private deliverData(s: StreamContext, d: Direction, chunk: Uint8Array, eos: boolean): Action {
    const isReq = this.isReq(s, d);
    if (isReq && s.decodingAborted) return FilterDataStatus.Continue;
    const visible: BodyRef = { data: d.bufferingForFilter ? concat(d.buffered, chunk) : chunk };
    d.body = visible;
    const status = this.runCallback(
      s,
      isReq ? 'proxy_on_request_body' : 'proxy_on_response_body',
      [s.id, visible.data.length, eos ? 1 : 0],
      'data',
    );
    this.vm.stopNextIteration = false;
    if (isReq && s.decodingAborted) {
      this.vm.drainAfterActions();
      return status;
    }
    const wasBuffering = d.bufferingForFilter;
    d.bufferingForFilter = false;
    switch (status) {
      case FilterDataStatus.Continue: {
        const out = wasBuffering ? visible.data : concat(d.buffered, visible.data);
        d.buffered = EMPTY;
        d.body = null;
        d.stopped = 'none';
        this.releaseData(s, d, out, eos);
        break;
      }
      case FilterDataStatus.StopIterationAndBuffer:
        d.buffered = wasBuffering ? visible.data : concat(d.buffered, visible.data);
        d.bufferingForFilter = true;
        d.stopped = 'data';
        break;
      case FilterDataStatus.StopIterationAndWatermark:
        d.buffered = wasBuffering ? visible.data : concat(d.buffered, visible.data);
        d.stopped = 'data';
        break;
      default: // StopIterationNoBuffer: the filter owns the data now
        if (wasBuffering) d.buffered = EMPTY;
        d.stopped = 'data';
        break;
    }
    this.vm.drainAfterActions();
    return status;
  }

  private onTrailers(s: StreamContext, d: Direction, trailers: Headers): Action {
    this.vm.assertUsable();
    const isReq = this.isReq(s, d);
    s.phase = isReq ? 'request_trailers' : 'response_trailers';
    d.endSeen = true;
    const map = new HeaderMap(trailers);
    if (s.bypass || !s.createdInVm || (!isReq && s.failureReplySent)) {
      d.trailers = map;
      this.releaseTrailers(s, d);
      return FilterTrailersStatus.Continue;
    }
    if (d.stopped === 'headers') {
      d.heldTrailers = map;
      return FilterTrailersStatus.StopIteration;
    }
    return this.deliverTrailers(s, d, map);
  }

  private deliverTrailers(s: StreamContext, d: Direction, map: HeaderMap): Action {
    const isReq = this.isReq(s, d);
    if (isReq && s.decodingAborted) return FilterTrailersStatus.Continue;
    d.trailers = map;
    d.trailersRef = true;
    const status = this.runCallback(
      s,
      isReq ? 'proxy_on_request_trailers' : 'proxy_on_response_trailers',
      [s.id, map.size],
      'trailers',
    );
    this.vm.stopNextIteration = false;
    if (isReq && s.decodingAborted) {
      this.vm.drainAfterActions();
      return status;
    }
    if (status === FilterTrailersStatus.Continue) {
      d.trailersRef = false;
      if (d.buffered.length > 0) {
        const out = d.buffered;
        d.buffered = EMPTY;
        this.releaseData(s, d, out, false);
      }
      d.stopped = 'none';
      this.releaseTrailers(s, d);
    } else {
      d.stopped = 'trailers';
    }
    this.vm.drainAfterActions();
    return status;
  }

  /** continueDecoding()/continueEncoding() (deferred from proxy_continue_stream). */
  resume(s: StreamContext, d: Direction): void {
    if (s.completed || s.resetDetails || d.complete) return;
    if (this.isReq(s, d) && s.decodingAborted) return;
    switch (d.stopped) {
      case 'headers': {
        d.stopped = 'none';
        d.headersRef = false;
        const moreToCome = !d.endSeen || d.buffered.length > 0 || d.heldTrailers !== null;
        this.releaseHeaders(s, d, !moreToCome);
        if (d.buffered.length > 0 || (d.endSeen && d.heldTrailers === null && !d.complete)) {
          // Buffered data goes to this filter first (iterate_from_current_filter_).
          const data = d.buffered;
          d.buffered = EMPTY;
          this.deliverData(s, d, data, d.endSeen && d.heldTrailers === null);
          if (d.stopped !== 'none') return;
        }
        if (d.heldTrailers) {
          const t = d.heldTrailers;
          d.heldTrailers = null;
          this.deliverTrailers(s, d, t);
        }
        return;
      }
      case 'data': {
        d.stopped = 'none';
        d.bufferingForFilter = false;
        d.body = null;
        const out = d.buffered;
        d.buffered = EMPTY;
        const ends = d.endSeen && d.trailers === null;
        if (out.length > 0 || ends) this.releaseData(s, d, out, ends);
        if (d.trailers !== null && !d.trailersRef) this.releaseTrailers(s, d);
        return;
      }
      case 'trailers': {
        d.stopped = 'none';
        d.trailersRef = false;
        if (d.buffered.length > 0) {
          const out = d.buffered;
          d.buffered = EMPTY;
          this.releaseData(s, d, out, false);
        }
        this.releaseTrailers(s, d);
        return;
      }
      default:
        return;
    }
  }

  private releaseHeaders(s: StreamContext, d: Direction, eos: boolean): void {
    if (d.headersReleased) return;
    d.headersReleased = true;
    if (eos) d.complete = true;
    if (!s.sink) return;
    const h = d.headers ? d.headers.toArray() : [];
    if (this.isReq(s, d)) s.sink.requestHeaders(h, eos);
    else s.sink.responseHeaders(h, eos);
  }

  private releaseData(s: StreamContext, d: Direction, data: Uint8Array, eos: boolean): void {
    if (d.complete) return;
    if (!d.headersReleased) {
      // Headers still held (e.g. the filter stopped headers and now continued through data).
      this.releaseHeaders(s, d, false);
    }
    if (data.length > 0) d.releasedBody.push(data);
    if (eos) d.complete = true;
    if (this.isReq(s, d)) s.sink?.requestData(data, eos);
    else s.sink?.responseData(data, eos);
  }

  private releaseTrailers(s: StreamContext, d: Direction): void {
    if (d.complete) return;
    if (!d.headersReleased) this.releaseHeaders(s, d, false);
    d.complete = true;
    if (!s.sink) return;
    const t = d.trailers ? d.trailers.toArray() : [];
    if (this.isReq(s, d)) s.sink.requestTrailers(t);
    else s.sink.responseTrailers(t);
  }

  resetStream(s: StreamContext, details: string): void {
    if (s.completed || s.resetDetails) return;
    s.resetDetails = details;
    s.sink?.reset(details);
  }

  /** Envoy's FilterManager::sendLocalReply for a decoder filter. */
  sendLocalReply(s: StreamContext, reply: LocalReplyRecord): void {
    if (s.completed || s.resetDetails) return;
    const isGrpc = (s.req.headers?.get('content-type') ?? '').startsWith('application/grpc');
    const headers = new HeaderMap([[':status', String(isGrpc ? 200 : reply.statusCode)]]);
    for (const [k, v] of reply.headers) headers.add(k, v);
    let body = reply.body;
    if (isGrpc) {
      headers.replace('content-type', 'application/grpc');
      const grpc =
        reply.grpcStatus >= 0 && reply.grpcStatus <= 16
          ? reply.grpcStatus
          : (HTTP_TO_GRPC[reply.statusCode] ?? GrpcStatus.Unknown);
      headers.replace('grpc-status', String(grpc));
      if (body.length > 0) headers.replace('grpc-message', percentEncodeGrpcMessage(body));
      headers.remove('content-length');
      body = EMPTY;
    } else if (body.length > 0) {
      headers.replace('content-length', String(body.length));
      if (!headers.has('content-type')) headers.replace('content-type', 'text/plain');
    } else {
      headers.remove('content-length');
      headers.remove('content-type');
    }
    s.responseCodeDetails ??= reply.details;
    const record: LocalReplyRecord = { ...reply, headers: headers.toArray(), body };
    if (s.resp.headers === null) {
      // The response has not started: the reply goes through the encoder filters, this one included.
      s.localReply = record;
      s.decodingAborted = true;
      s.req.stopped = 'none';
      s.req.headersRef = false;
      s.req.body = null;
      s.sink?.localReplyStarted();
      s.bytesSent += body.length;
      this.decodeOrEncodeHeaders(s, s.resp, headers.toArray(), body.length === 0);
      if (body.length > 0 && !s.resetDetails) this.onData(s, s.resp, body, true);
    } else if (!s.resp.headersReleased) {
      // Response headers are in the filter chain but not sent: bypass the filters (sendDirectLocalReply).
      s.localReply = record;
      s.decodingAborted = true;
      s.sink?.localReplyStarted();
      const d = s.resp;
      d.headers = headers;
      d.headersRef = false;
      d.body = null;
      d.buffered = EMPTY;
      d.stopped = 'none';
      d.releasedBody = [];
      this.releaseHeaders(s, d, body.length === 0);
      if (body.length > 0) this.releaseData(s, d, body, true);
    } else {
      this.resetStream(s, reply.details);
    }
  }

  /** on_log, on_done, on_delete (Envoy HCM: log before destroying the filters). */
  completeHttpContext(id: number): void {
    const s = this.stream(id);
    this.vm.assertUsable();
    if (s.completed) return;
    s.phase = 'completed';
    s.completeTimeNs = this.now();
    if (!s.bypass) {
      if (!s.createdInVm) this.onCreate(s);
      s.accessLogPhase = true;
      if (!this.vm.failed) this.vm.callVoid(s, 'proxy_on_log', s.id);
      s.accessLogPhase = false;
      if (!this.vm.failed) this.vm.callWord(s, 'proxy_on_done', [s.id], 1);
      if (s.createdInVm && !this.vm.failed) this.vm.callVoid(s, 'proxy_on_delete', s.id);
    }
    s.completed = true;
    s.req.headersRef = s.resp.headersRef = s.req.trailersRef = s.resp.trailersRef = false;
    this.vm.contexts.delete(id);
    // Keep the N most recently completed streams inspectable. They are evicted in completion order,
    // not by id: streams do not complete in id order (a slow callout or upstream holds one while
    // later ones finish), and dropping `id - N` missed every stream that completed after its
    // successor N ids on had already dropped it, so those stayed for good, each with its sink and
    // so the gateway's request, response and sockets (a soak of mixed faults grew the heap by
    // about 55 bytes a request). An array of ids keeps this O(1) amortised; iterating the Map
    // from the front after many deletes is not (V8 keeps the holes until it rehashes).
    this.finished.set(id, s);
    this.finishedOrder.push(id);
    const keep = historyLimits(this.vm.traceOn).streams;
    while (this.finishedOrder.length - this.finishedHead > keep)
      this.finished.delete(this.finishedOrder[this.finishedHead++]!);
    if (this.finishedHead >= keep) {
      this.finishedOrder = this.finishedOrder.slice(this.finishedHead);
      this.finishedHead = 0;
    }
  }

  /** A live or recently completed stream (for inspection). */
  anyStream(id: number): StreamContext {
    const c = this.vm.contexts.get(id) ?? this.finished.get(id);
    if (!(c instanceof StreamContext)) throw new Error(`no HTTP stream context ${id}`);
    return c;
  }
}

/**
 * grpc-message as Envoy writes it (Grpc::Utility::PercentEncoding): only '%' and the bytes a header
 * value cannot carry (below 0x20, 0x7F and above, so every byte of a multi-byte UTF-8 character)
 * become %XX; spaces, quotes and slashes stay as they are. Checked against Envoy 1.40 in
 * test/engines-modules.test.ts.
 */
export function percentEncodeGrpcMessage(message: Uint8Array): string {
  let out = '';
  for (const byte of message) {
    out +=
      byte < 0x20 || byte >= 0x7f || byte === 0x25
        ? `%${byte.toString(16).toUpperCase().padStart(2, '0')}`
        : String.fromCharCode(byte);
  }
  return out;
}
