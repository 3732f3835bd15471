// Per-context state: the root context (and the VM context, which shares its "root-like" fields),
// and HTTP stream contexts with one Direction each for the request (decode) and response (encode)
// side. The Direction mirrors what Envoy's wasm Context and filter manager hold for one filter.

import type { HeaderMap } from './header-map.js';
import type { Headers } from './pairs.js';

export const EMPTY = new Uint8Array(0);

/** A proxy_http_call as tests see it (ProxyWasmHost.getHttpCallouts). */
export interface HttpCallout {
  token: number;
  cluster: string;
  headers: Headers;
  body: Uint8Array;
  trailers: Headers;
  timeoutMs: number;
  originContextId: number;
  pending: boolean;
}

/** The host's own record of a callout: what tests see, plus how to cancel it. */
export interface CalloutRecord extends HttpCallout {
  /** Real-network calls only: cancels without delivering anything. */
  cancel?: () => void;
}

/** The response being delivered in on_http_call_response; headers === null means failure (reset). */
export interface DeliveredResponse {
  headers: HeaderMap | null;
  body: Uint8Array | null;
  trailers: HeaderMap | null;
}

export class RootLikeContext {
  statusCode = 0;
  statusMessage = '';
  httpCallResponse: DeliveredResponse | null = null;
  /** temp_plugin_: PluginConfiguration is readable only while this is set (on_configure). */
  pluginConfigReadable = false;
  readonly pending = new Map<number, CalloutRecord>();
  constructor(
    readonly id: number,
    readonly kind: 'vm' | 'root',
  ) {}
}

/** A mutable body holder so proxy_set_buffer_bytes can replace what the filter manager forwards. */
export interface BodyRef {
  data: Uint8Array;
}

export type StopPoint = 'none' | 'headers' | 'data' | 'trailers';

export class Direction {
  /** The header map as it stands (kept after release, for inspection and for the access-log phase). */
  headers: HeaderMap | null = null;
  /** Envoy's request_headers_/response_headers_ pointer: the filter may read/modify the map. */
  headersRef = false;
  trailers: HeaderMap | null = null;
  trailersRef = false;
  /** Envoy's request_body_buffer_: what get_buffer_bytes(Http*Body) sees, or null. */
  body: BodyRef | null = null;
  /** Filter-manager buffered data (after StopAll, StopIterationAndBuffer or ...Watermark). */
  buffered: Uint8Array = EMPTY;
  /** buffering_request_body_: the filter asked to buffer, so it sees the whole buffered body. */
  bufferingForFilter = false;
  stopped: StopPoint = 'none';
  /** Trailers that arrived while iteration was stopped at headers (held by the filter manager). */
  heldTrailers: HeaderMap | null = null;
  /** The peer (client or upstream) finished sending this direction. */
  endSeen = false;
  headersReleased = false;
  /** End of stream has been passed beyond the filter. */
  complete = false;
  /** Body bytes released beyond the filter. */
  releasedBody: Uint8Array[] = [];
}

export interface LocalReplyRecord {
  statusCode: number;
  details: string;
  body: Uint8Array;
  headers: Headers;
  grpcStatus: number;
}

/** What a stream hands past the filter; the gateway implements it to talk to upstream/client. */
export interface StreamSink {
  requestHeaders(headers: Headers, endOfStream: boolean): void;
  requestData(data: Uint8Array, endOfStream: boolean): void;
  requestTrailers(trailers: Headers): void;
  responseHeaders(headers: Headers, endOfStream: boolean): void;
  responseData(data: Uint8Array, endOfStream: boolean): void;
  responseTrailers(trailers: Headers): void;
  /** A local reply replaces the upstream response: abandon the upstream request. */
  localReplyStarted(): void;
  /** The stream must be reset (proxy_close_stream, or a local reply after response headers were sent). */
  reset(details: string): void;
}

export interface StreamInfoOptions {
  /** "ip:port" of the downstream client (property source.address). */
  source?: string;
  /** "ip:port" the client connected to (property destination.address). */
  destination?: string;
  /** request.protocol, e.g. "HTTP/1.1". */
  protocol?: string;
}

export class StreamContext {
  readonly kind = 'stream' as const;
  readonly req = new Direction();
  readonly resp = new Direction();
  /** on_context_create ran in the VM (in_vm_context_created_). */
  createdInVm = false;
  /** The filter was skipped because the VM had failed and fail_open is set. */
  bypass = false;
  /** failStream() already sent its 503 (failure_local_reply_sent_). */
  failureReplySent = false;
  streamFailed = false;
  localReply: LocalReplyRecord | undefined;
  /** Decoding was aborted by a local reply: later request data never reaches the filter. */
  decodingAborted = false;
  resetDetails: string | undefined;
  accessLogPhase = false;
  completed = false;
  phase:
    | 'created'
    | 'request_headers'
    | 'request_body'
    | 'request_trailers'
    | 'response_headers'
    | 'response_body'
    | 'response_trailers'
    | 'completed' = 'created';
  sink: StreamSink | undefined;
  /** Start time: ns (bigint) from a custom clock, or ms (number) from Date.now() — converted on demand. */
  private readonly startedAt: bigint | number;
  responseCodeDetails: string | undefined;
  bytesReceived = 0;
  bytesSent = 0;
  completeTimeNs: bigint | undefined;

  constructor(
    readonly id: number,
    readonly connectionId: number,
    readonly info: Required<StreamInfoOptions>,
    startedAt: bigint | number,
  ) {
    this.startedAt = startedAt;
  }

  get startTimeNs(): bigint {
    return typeof this.startedAt === 'bigint' ? this.startedAt : BigInt(this.startedAt) * 1_000_000n;
  }
}

export type AnyContext = RootLikeContext | StreamContext;

// How many finished streams and callouts stay inspectable. Benchmarks turn `trace` off, which also
// keeps the history short so finished requests die young instead of being promoted.
const HISTORY = { streams: 1024, callouts: 10_000 };
const SHORT_HISTORY = { streams: 32, callouts: 256 };

export function historyLimits(traceOn: boolean): { streams: number; callouts: number } {
  return traceOn ? HISTORY : SHORT_HISTORY;
}
