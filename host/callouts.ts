// proxy_http_call and what follows it: Envoy's Context::httpCall checks, the call itself (a real
// request to a loopback cluster, or a 'manual' one the test answers), delivery into
// proxy_on_http_call_response on the root context (never inside another guest call), and a
// bounded history for inspection. gRPC calls are not supported and fail the way Envoy does for an
// unknown or unusable service.

import http from 'node:http';
import { WasmResult } from './abi.js';
import { type Bytes, toBytes } from './bytes.js';
import type { GuestCalls, HostFn } from './guest-calls.js';
import { HeaderMap, lowerKey } from './header-map.js';
import {
  type CalloutResponse,
  OVERFLOW_BODY,
  UPSTREAM_TIMEOUT_BODY,
  hasIdleConnection,
  parseClusterUrl,
  routerReply,
  sendCallout,
} from './http-call.js';
import { type Headers, decodePairs } from './pairs.js';
import { refusedRequestHeader } from './wire.js';
import {
  type CalloutRecord,
  type DeliveredResponse,
  type HttpCallout,
  type RootLikeContext,
  historyLimits,
} from './stream.js';

export type { HttpCallout };

export interface CalloutReply {
  headers: Headers;
  body?: Bytes;
  trailers?: Headers;
}

/** Envoy's default cluster circuit breaker: max_requests 1024 in flight per cluster. */
export const MAX_REQUESTS_PER_CLUSTER = 1024;
/** Finished callouts kept for inspection stop at this many bytes (bodies and headers), whatever the count. */
export const HISTORY_BYTES = 16 * 1024 * 1024;

function recordBytes(r: CalloutRecord): number {
  let n = r.body.length;
  for (const [k, v] of r.headers) n += k.length + v.length;
  for (const [k, v] of r.trailers) n += k.length + v.length;
  return n;
}

export class HttpCallouts {
  /** Tokens are per VM: 4, 8, 12, ... (cpp-host nextHttpCallId). */
  private nextHttpCallId = 0;
  /** Every callout still inspectable: pending ones plus recent history (see historyLimits). */
  private readonly callouts = new Map<number, CalloutRecord>();
  private doneCallouts: number[] = [];
  private doneBytes = 0;
  /** Real callouts dispatched and not yet finished, per cluster (the circuit breaker's rq_open). */
  private readonly inFlight = new Map<string, number>();
  /** Per cluster: requests refused by the circuit breaker (Envoy's upstream_rq_active_overflow). */
  private readonly overflows = new Map<string, number>();
  /** Real-network callouts not yet delivered (whenIdle waits for 0). */
  private realPending = 0;
  private idleWaiters: Array<() => void> = [];
  private agent: http.Agent | undefined;
  private readonly clusterUrls = new Map<string, URL | 'manual' | 'unavailable'>();

  constructor(
    private readonly vm: GuestCalls,
    clusters: Record<string, string>,
  ) {
    for (const [name, url] of Object.entries(clusters)) {
      this.clusterUrls.set(
        name,
        url === 'manual' || url === 'unavailable' ? url : parseClusterUrl(name, url),
      );
    }
  }

  hostFunctions(): Record<string, HostFn> {
    const grpcCall = this.grpcCall.bind(this);
    return {
      proxy_http_call: this.httpCall.bind(this),
      proxy_grpc_call: grpcCall,
      proxy_grpc_stream: grpcCall,
      proxy_grpc_close: (): number => WasmResult.NotFound,
      proxy_grpc_cancel: (): number => WasmResult.NotFound,
      proxy_grpc_send: (): number => WasmResult.BadArgument,
    };
  }

  private httpCall(
    upPtr: number,
    upSize: number,
    hPtr: number,
    hSize: number,
    bPtr: number,
    bSize: number,
    tPtr: number,
    tSize: number,
    timeout: number,
    tokenPtr: number,
  ): number {
    const origin = this.vm.ctx();
    const root = this.vm.rootOf(origin);
    const cluster = this.vm.mem.string(upPtr, upSize);
    const body = this.vm.mem.copy(bPtr, bSize);
    const hv = this.vm.mem.view(hPtr, hSize);
    const tv = this.vm.mem.view(tPtr, tSize);
    if (cluster === null || body === null || hv === null || tv === null)
      return WasmResult.InvalidMemoryAccess;
    const headerPairs = decodePairs(hv);
    const trailerPairs = decodePairs(tv);
    if (!this.vm.mem.setU32(tokenPtr, 0)) return WasmResult.InvalidMemoryAccess;

    // Envoy Context::httpCall
    if ((timeout | 0) < 0) return WasmResult.BadArgument;
    const target = this.clusterUrls.get(cluster);
    if (target === undefined) return WasmResult.BadArgument;
    // buildRequestHeaderMapFromPairs: addCopy per pair, so inline headers coalesce like in Envoy.
    const headers = new HeaderMap();
    for (const [k, v] of headerPairs) headers.add(k, v);
    if (!headers.has(':path') || !headers.has(':method') || !headers.has(':authority'))
      return WasmResult.BadArgument;
    if (body.length > 0) headers.replace('content-length', String(body.length));
    const trailerMap = new HeaderMap();
    for (const [k, v] of trailerPairs) trailerMap.add(k, v);
    const trailers = trailerMap.toArray();

    this.nextHttpCallId += 4;
    const token = this.nextHttpCallId;
    if (target === 'unavailable') {
      // AsyncClient::send completed inline (e.g. no healthy upstream): handler erased, no callback.
      return WasmResult.InternalFailure;
    }
    let localReply: CalloutResponse | undefined;
    if (target !== 'manual') {
      // Envoy's circuit breaker (max_requests) and its codec's header check refuse a callout at
      // once when an idle connection is there (see hasIdleConnection), else with a later 503.
      const overflow = (this.inFlight.get(cluster) ?? 0) >= MAX_REQUESTS_PER_CLUSTER;
      if (overflow) this.overflows.set(cluster, (this.overflows.get(cluster) ?? 0) + 1);
      if (overflow || refusedRequestHeader(headers.toArray()) !== undefined) {
        if (this.agent && hasIdleConnection(this.agent, target)) return WasmResult.InternalFailure;
        if (overflow) localReply = routerReply(503, OVERFLOW_BODY, [['x-envoy-overloaded', 'true']]);
      }
    }
    const record: CalloutRecord = {
      token,
      cluster,
      headers: headers.toArray(),
      body,
      trailers,
      timeoutMs: timeout >>> 0,
      originContextId: origin.id,
      pending: true,
    };
    this.callouts.set(token, record);
    root.pending.set(token, record);
    if (target !== 'manual') {
      this.realPending++;
      this.inFlight.set(cluster, (this.inFlight.get(cluster) ?? 0) + 1);
      const leave = () => this.inFlight.set(cluster, this.inFlight.get(cluster)! - 1);
      this.agent ??= new http.Agent({ keepAlive: true });
      record.cancel = sendCallout(
        target,
        this.agent,
        { headers: record.headers, body, trailers, timeoutMs: record.timeoutMs, localReply },
        {
          success: (resp) => {
            leave();
            this.networkDone(() => this.deliverSuccess(root, token, resp));
          },
          failure: () => {
            leave();
            this.networkDone(() => this.deliverFailure(root, token));
          },
        },
      );
    }
    this.vm.mem.setU32(tokenPtr, token);
    return WasmResult.Ok;
  }

  private networkDone(deliver: () => void): void {
    this.realPending--;
    if (!this.vm.shutDown) deliver();
    if (this.realPending === 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  private grpcCall(sPtr: number, sSize: number): number {
    const service = this.vm.mem.string(sPtr, sSize);
    if (service === null) return WasmResult.InvalidMemoryAccess;
    return this.clusterUrls.has(service) ? WasmResult.Unimplemented : WasmResult.ParseFailure;
  }

  private deliverSuccess(root: RootLikeContext, token: number, resp: CalloutResponse): void {
    if (this.vm.current !== null) {
      this.vm.afterActions.push(() => this.deliverSuccess(root, token, resp));
      return;
    }
    const record = root.pending.get(token);
    if (!record) return;
    const delivered: DeliveredResponse = {
      headers: new HeaderMap(resp.headers),
      body: resp.body,
      trailers: resp.trailers.length > 0 ? new HeaderMap(resp.trailers) : null,
    };
    root.httpCallResponse = delivered;
    this.vm.afterActions.push(() => {
      root.httpCallResponse = null;
      this.finishCallout(root, record);
    });
    this.onHttpCallResponse(
      root,
      token,
      delivered.headers!.size,
      resp.body.length,
      delivered.trailers?.size ?? 0,
    );
  }

  private deliverFailure(root: RootLikeContext, token: number): void {
    if (this.vm.current !== null) {
      this.vm.afterActions.push(() => this.deliverFailure(root, token));
      return;
    }
    const record = root.pending.get(token);
    if (!record) return;
    root.statusCode = WasmResult.BrokenConnection;
    root.statusMessage = 'reset';
    this.vm.afterActions.push(() => {
      root.statusMessage = '';
      this.finishCallout(root, record);
    });
    this.onHttpCallResponse(root, token, 0, 0, 0);
  }

  /** ContextBase::onHttpCallResponse; the deferred cleanup runs even when the VM is not entered. */
  private onHttpCallResponse(root: RootLikeContext, token: number, h: number, b: number, t: number): void {
    if (!this.vm.failed && this.vm.fn.proxy_on_http_call_response) {
      this.vm.guestCall(root, 'proxy_on_http_call_response', this.vm.fn.proxy_on_http_call_response, [
        root.id,
        token,
        h,
        b,
        t,
      ]);
    }
    this.vm.afterCall();
  }

  private finishCallout(root: RootLikeContext, record: CalloutRecord): void {
    record.pending = false;
    // The cancel closure holds the client request, its socket and the response chunks.
    record.cancel = undefined;
    root.pending.delete(record.token);
    this.doneCallouts.push(record.token);
    this.doneBytes += recordBytes(record);
    const keep = historyLimits(this.vm.traceOn).callouts;
    if (this.doneCallouts.length > keep || this.doneBytes > HISTORY_BYTES) {
      // Drop the older half by count, then the oldest until the bytes fit.
      let drop = this.doneCallouts.length > keep ? keep / 2 : 0;
      let bytes = this.doneBytes;
      for (let i = 0; i < drop; i++) bytes -= recordBytes(this.callouts.get(this.doneCallouts[i]!)!);
      while (bytes > HISTORY_BYTES && drop < this.doneCallouts.length - 1)
        bytes -= recordBytes(this.callouts.get(this.doneCallouts[drop++]!)!);
      for (const t of this.doneCallouts.splice(0, drop)) this.callouts.delete(t);
      this.doneBytes = bytes;
    }
  }

  /** Envoy's cluster.NAME.upstream_rq_active_overflow: callouts the circuit breaker refused. */
  overflowCount(cluster: string): number {
    return this.overflows.get(cluster) ?? 0;
  }

  list(filter?: { contextId?: number; pending?: boolean }): HttpCallout[] {
    const out: HttpCallout[] = [];
    // Pending calls are few; don't walk the whole history for them.
    const source = filter?.pending === true ? this.vm.root.pending.values() : this.callouts.values();
    for (const r of source) {
      if (filter?.contextId !== undefined && r.originContextId !== filter.contextId) continue;
      if (filter?.pending !== undefined && r.pending !== filter.pending) continue;
      out.push({
        token: r.token,
        cluster: r.cluster,
        headers: r.headers.map(([k, v]) => [k, v]),
        body: r.body,
        trailers: r.trailers.map(([k, v]) => [k, v]),
        timeoutMs: r.timeoutMs,
        originContextId: r.originContextId,
        pending: r.pending,
      });
    }
    return out;
  }

  private pendingCallout(token: number): CalloutRecord {
    const r = this.vm.root.pending.get(token);
    if (!r) throw new Error(`no pending http call with token ${token}`);
    if (r.cancel) {
      r.cancel();
      r.cancel = undefined;
      this.inFlight.set(r.cluster, this.inFlight.get(r.cluster)! - 1);
      this.networkDone(() => undefined);
    }
    return r;
  }

  /** Delivers a response to proxy_on_http_call_response(ROOT id, token, ...). */
  respond(token: number, reply: CalloutReply): void {
    this.vm.assertUsable();
    this.pendingCallout(token);
    this.deliverSuccess(this.vm.root, token, {
      headers: reply.headers.map(([k, v]) => [lowerKey(k), v]),
      body: toBytes(reply.body),
      trailers: (reply.trailers ?? []).map(([k, v]) => [lowerKey(k), v]),
    });
  }

  /** A reset: (root, token, 0, 0, 0) with proxy_get_status = (11, "reset") during the callback. */
  fail(token: number): void {
    this.vm.assertUsable();
    this.pendingCallout(token);
    this.deliverFailure(this.vm.root, token);
  }

  /** The router's timeout reply: a success with 504 "upstream request timeout". */
  timeout(token: number): void {
    this.vm.assertUsable();
    this.pendingCallout(token);
    this.deliverSuccess(this.vm.root, token, routerReply(504, UPSTREAM_TIMEOUT_BODY));
  }

  /** Resolves once every real-network callout has been delivered. */
  whenIdle(): Promise<void> {
    if (this.realPending === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Pending callouts are cancelled and never delivered; whenIdle() waiters are released. */
  shutdown(): void {
    for (const r of this.vm.root.pending.values()) {
      r.cancel?.();
      r.pending = false;
    }
    this.vm.root.pending.clear();
    this.inFlight.clear();
    this.realPending = 0;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
    this.agent?.destroy();
  }
}
