// A loopback HTTP gateway that runs every request through the filter the way Envoy's HTTP
// connection manager does: request headers as Envoy presents them (:authority, :path, :method,
// :scheme first, then client headers, x-forwarded-proto, a generated x-request-id), request and
// response bodies chunk by chunk with end_of_stream on the last one, pause/continue honoured,
// local replies sent as built, the upstream's failures turned into the router's replies, and
// on_log/on_done/on_delete once the exchange is over (or the client went away).

import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { type HostOptions, ProxyWasmHost } from './host.js';
import {
  CONNECTION_TERMINATION_BODY,
  CONNECT_FAILURE_BODY,
  PROTOCOL_ERROR_BODY,
  UPSTREAM_TIMEOUT_BODY,
  openRequest,
  requestTarget,
  routerReply,
} from './http-call.js';
import type { Headers } from './pairs.js';
import { RawResponse } from './raw-response.js';
import type { StreamSink } from './stream.js';
import { fromWire, nodeWritable, refusedRequestHeader, toWire } from './wire.js';

export interface GatewayOptions {
  /** A started host, or options to start one (the gateway then owns and shuts it down). */
  host: ProxyWasmHost | HostOptions;
  /** Where allowed requests go: 'http://127.0.0.1:PORT'. */
  upstream: string;
  listen?: { port?: number; host?: string };
  /** Route timeout for the upstream request (Envoy's default is 15 s); 0 = none. */
  routeTimeoutMs?: number;
  /** Called once per exchange when it is over (what an access log line says). */
  onExchange?: (exchange: Exchange) => void;
}

export interface Exchange {
  method: string;
  path: string;
  /** The status sent to the client; 0 if none was (the client went away first). */
  status: number;
  durationMs: number;
  requestId: string;
}

export interface Gateway {
  url: string;
  host: ProxyWasmHost;
  close(): Promise<void>;
}

// Hop-by-hop headers the HTTP/1 codec consumes instead of passing them to filters.
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'te',
  'host',
]);

/** Envoy's HCM default for common_http_protocol_options.max_headers_count. */
export const MAX_REQUEST_HEADERS = 100;
const TOO_MANY_HEADERS_BODY = 'Request Header Fields Too Large';
const MISSING_STATUS_BODY = 'missing required header: :status';

function rawToPairs(raw: string[]): Headers {
  const out: Headers = [];
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const k = raw[i]!.toLowerCase();
    if (!HOP_BY_HOP.has(k)) out.push([k, fromWire(raw[i + 1]!)]);
  }
  return out;
}

function toRaw(headers: Headers): string[] {
  const out: string[] = [];
  for (const [k, v] of headers) if (k.charCodeAt(0) !== 58) out.push(k, toWire(v));
  return out;
}

/**
 * :authority and :path as Envoy's HTTP/1 codec derives them: an absolute-form target
 * (`GET http://host/p HTTP/1.1`) gives its host as :authority (the Host header loses) and its
 * path and query as :path, never the whole URL.
 */
function requestLine(url: string, hostHeader: string | undefined): { authority: string; path: string } {
  const absolute = /^https?:\/\/([^/?#]*)(.*)$/i.exec(url);
  if (!absolute) return { authority: hostHeader ?? '', path: url };
  const rest = absolute[2]!.replace(/#.*$/, '');
  return { authority: absolute[1]!, path: rest.startsWith('/') ? rest : `/${rest}` };
}

function directReply(res: http.ServerResponse, status: number, body: string): void {
  res.writeHead(status, {
    'content-length': Buffer.byteLength(body),
    'content-type': 'text/plain',
    connection: 'close',
  });
  res.end(body);
}

export async function startGateway(opts: GatewayOptions): Promise<Gateway> {
  let upstream: URL;
  try {
    upstream = new URL(opts.upstream);
  } catch {
    // The value is not echoed: a malformed URL may still hold credentials.
    throw new Error('upstream: not a valid URL; give http://HOST:PORT, e.g. http://127.0.0.1:8080');
  }
  if (upstream.protocol !== 'http:')
    throw new Error(`upstream: only http:// is supported (got '${opts.upstream}')`);
  const owned = !(opts.host instanceof ProxyWasmHost);
  const host = opts.host instanceof ProxyWasmHost ? opts.host : await ProxyWasmHost.start(opts.host);
  host.enableRealTicks();
  const routeTimeoutMs = opts.routeTimeoutMs ?? 15_000;
  const agent = new http.Agent({ keepAlive: true });
  const sockets = new Set<Socket>();
  let closed = false;

  const server = http.createServer((req, res) => handle(req, res));
  // Node would drop headers beyond its own count silently; count them ourselves (Envoy: 431).
  server.maxHeadersCount = 0;
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });

  function handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    if (req.rawHeaders.length / 2 > MAX_REQUEST_HEADERS) {
      // The codec refuses the request before any filter sees it.
      directReply(res, 431, TOO_MANY_HEADERS_BODY);
      req.resume();
      return;
    }
    const sock = req.socket;
    const id = host.initializeHttpContext({
      source: `${sock.remoteAddress}:${sock.remotePort}`,
      destination: `${sock.localAddress}:${sock.localPort}`,
      protocol: `HTTP/${req.httpVersion}`,
    });
    let finished = false;
    const startedAt = process.hrtime.bigint();
    let sentStatus = 0;
    let upstreamReq: http.ClientRequest | undefined;
    let upstreamTimer: NodeJS.Timeout | undefined;
    let responseStarted = false;
    /** Set when the response is written raw (see RawResponse) or replaced by the HCM's own 502. */
    let raw: RawResponse | undefined;
    let replaced = false;

    const complete = () => {
      if (finished) return;
      finished = true;
      if (upstreamTimer) clearTimeout(upstreamTimer);
      upstreamReq?.destroy();
      // A connection the gateway's close() cut may report after the host has shut down.
      if (closed) return;
      host.completeHttpContext(id);
      opts.onExchange?.({
        method: req.method ?? 'GET',
        path: req.url ?? '/',
        status: sentStatus,
        durationMs: Number(process.hrtime.bigint() - startedAt) / 1e6,
        requestId: headers.find(([k]) => k === 'x-request-id')?.[1] ?? '',
      });
    };

    /** Feeds a body stream into the filter one chunk behind, so the last chunk carries end_of_stream. */
    const feed = (
      stream: NodeJS.ReadableStream & { rawTrailers?: string[] },
      onChunk: (chunk: Uint8Array, eos: boolean) => void,
      onTrailers: (trailers: Headers) => void,
    ) => {
      let held: Uint8Array | undefined;
      stream.on('data', (c: Buffer) => {
        if (finished) return;
        if (held) onChunk(held, false);
        held = new Uint8Array(c.buffer, c.byteOffset, c.length);
      });
      stream.on('end', () => {
        if (finished) return;
        const trailers = rawToPairs(stream.rawTrailers ?? []);
        if (trailers.length > 0) {
          if (held) onChunk(held, false);
          onTrailers(trailers);
        } else {
          onChunk(held ?? new Uint8Array(0), true);
        }
      });
    };

    const sendUpstreamError = (status: number, body: string) => {
      if (finished || responseStarted) return;
      const r = routerReply(status, body);
      host.callOnResponseHeaders(id, r.headers, false);
      if (!finished) host.callOnResponseBody(id, r.body, true);
    };

    const startUpstream = (headers: Headers, eos: boolean) => {
      const { method, path, authority } = requestTarget(upstream, headers);
      const started = Date.now();
      const refused = refusedRequestHeader(headers);
      if (refused !== undefined) {
        // The router's upstream codec refuses to encode it: a 503 local reply with the reason.
        setImmediate(() => sendUpstreamError(503, refused));
        return;
      }
      const ur = openRequest({
        agent,
        host: upstream.hostname,
        port: upstream.port || 80,
        method,
        path: toWire(path),
        // The router tells the upstream how long it will wait (Envoy adds this header after the
        // filters ran, so they never see it).
        headers: [
          ...toRaw(headers),
          'host',
          toWire(authority),
          ...(routeTimeoutMs > 0 ? ['x-envoy-expected-rq-timeout-ms', String(routeTimeoutMs)] : []),
        ],
      });
      upstreamReq = ur;
      if (routeTimeoutMs > 0) {
        upstreamTimer = setTimeout(() => {
          ur.destroy();
          if (!responseStarted) sendUpstreamError(504, UPSTREAM_TIMEOUT_BODY);
          else res.destroy();
        }, routeTimeoutMs);
      }
      ur.on('response', (ures) => {
        if (finished) return;
        if ((ures.statusCode ?? 0) < 100) {
          // Envoy's codec rejects a status below 100 (e.g. `HTTP/1.1 099`): a protocol error.
          upstreamReq = undefined;
          ur.destroy();
          if (upstreamTimer) clearTimeout(upstreamTimer);
          sendUpstreamError(502, PROTOCOL_ERROR_BODY);
          return;
        }
        responseStarted = true;
        const h: Headers = [[':status', String(ures.statusCode ?? 502)], ...rawToPairs(ures.rawHeaders)];
        h.push(['x-envoy-upstream-service-time', String(Date.now() - started)]);
        const noBody =
          method === 'HEAD' ||
          ures.statusCode === 204 ||
          ures.statusCode === 304 ||
          ures.headers['content-length'] === '0';
        host.callOnResponseHeaders(id, h, noBody);
        if (noBody) {
          ures.resume();
          ures.on('end', () => {
            if (upstreamTimer) clearTimeout(upstreamTimer);
          });
          return;
        }
        feed(
          ures,
          (chunk, end) => {
            if (end && upstreamTimer) clearTimeout(upstreamTimer);
            host.callOnResponseBody(id, chunk, end);
          },
          (t) => {
            if (upstreamTimer) clearTimeout(upstreamTimer);
            host.callOnResponseTrailers(id, t);
          },
        );
        ures.on('aborted', () => res.destroy());
      });
      ur.on('error', (err: NodeJS.ErrnoException) => {
        if (upstreamTimer) clearTimeout(upstreamTimer);
        if (finished || upstreamReq !== ur) return;
        if (responseStarted) {
          res.destroy();
          return;
        }
        if (err.code?.startsWith('HPE_')) sendUpstreamError(502, PROTOCOL_ERROR_BODY);
        else
          sendUpstreamError(
            503,
            err.code === 'ECONNREFUSED' ? CONNECT_FAILURE_BODY : CONNECTION_TERMINATION_BODY,
          );
      });
      if (eos) ur.end();
    };

    const sink: StreamSink = guarded({
      requestHeaders: (h, eos) => startUpstream(h, eos),
      requestData: (data, eos) => {
        if (!upstreamReq) return;
        if (data.length > 0) upstreamReq.write(data);
        if (eos) upstreamReq.end();
      },
      requestTrailers: (t) => {
        if (!upstreamReq) return;
        upstreamReq.addTrailers(t.filter(([k]) => k.charCodeAt(0) !== 58));
        upstreamReq.end();
      },
      responseHeaders: (h, eos) => {
        if (res.headersSent || res.destroyed || raw || replaced) return;
        const status = h.find(([k]) => k === ':status')?.[1];
        if (status === undefined || !/^[0-9]+$/.test(status)) {
          // The HCM checks :status after the filters ran and answers 502 itself.
          replaced = true;
          directReply(res, 502, MISSING_STATUS_BODY);
          return;
        }
        // What the HCM and the HTTP/1 codec add after the filters: `server: envoy` (overwriting
        // the upstream's), and for a headers-only response an explicit content-length: 0 instead
        // of chunked framing (not for 1xx/204/304 or the answer to a HEAD).
        const code = Number(status);
        const sent: Headers = [...h.filter(([k]) => k !== 'server'), ['server', 'envoy']];
        const bodiless = code < 200 || code === 204 || code === 304 || req.method === 'HEAD';
        if (eos && !bodiless && !h.some(([k]) => k === 'content-length')) sent.push(['content-length', '0']);
        sentStatus = code;
        const wire = toRaw(sent);
        let writable = code >= 100 && code <= 999;
        for (let i = 0; writable && i < wire.length; i += 2) writable = nodeWritable(wire[i]!, wire[i + 1]!);
        if (writable) {
          // Envoy's reason phrase for a code it does not know is "Unknown".
          res.writeHead(code, http.STATUS_CODES[status] ?? 'Unknown', wire);
          if (eos) res.end();
        } else {
          raw = new RawResponse(res.socket!, status, sent, eos);
        }
      },
      responseData: (data, eos) => {
        if (res.destroyed || replaced) return;
        if (raw) return raw.data(data, eos);
        if (data.length > 0) res.write(data);
        if (eos) res.end();
      },
      responseTrailers: (t) => {
        if (res.destroyed || replaced) return;
        if (raw) return raw.trailers(t);
        res.addTrailers(t.map(([k, v]) => [k, toWire(v)] as [string, string]));
        res.end();
      },
      localReplyStarted: () => {
        if (upstreamTimer) clearTimeout(upstreamTimer);
        upstreamReq?.destroy();
        upstreamReq = undefined;
      },
      reset: () => {
        upstreamReq?.destroy();
        res.destroy();
      },
    });
    /**
     * Whatever one exchange makes Node throw (a trailer it refuses, a socket gone mid-write) resets
     * that stream only, as Envoy resets a stream its codec cannot encode; the gateway keeps serving.
     */
    function guarded(s: StreamSink): StreamSink {
      const wrap =
        <A extends unknown[]>(fn: (...a: A) => void) =>
        (...a: A) => {
          try {
            fn(...a);
          } catch {
            upstreamReq?.destroy();
            res.destroy();
          }
        };
      return {
        requestHeaders: wrap(s.requestHeaders),
        requestData: wrap(s.requestData),
        requestTrailers: wrap(s.requestTrailers),
        responseHeaders: wrap(s.responseHeaders),
        responseData: wrap(s.responseData),
        responseTrailers: wrap(s.responseTrailers),
        localReplyStarted: wrap(s.localReplyStarted),
        reset: wrap(s.reset),
      };
    }
    host.attachStreamSink(id, sink);

    res.on('close', complete);

    // Envoy's HCM view of the request headers.
    const target = requestLine(req.url ?? '/', req.headers.host);
    const headers: Headers = [
      [':authority', fromWire(target.authority)],
      [':path', fromWire(target.path)],
      [':method', req.method ?? 'GET'],
      [':scheme', 'http'],
      ...rawToPairs(req.rawHeaders),
    ];
    const xfp = headers.findIndex(([k]) => k === 'x-forwarded-proto');
    if (xfp >= 0) headers.splice(xfp, 1);
    headers.push(['x-forwarded-proto', 'http']);
    if (!headers.some(([k]) => k === 'x-request-id')) headers.push(['x-request-id', randomUUID()]);

    const hasBody =
      (req.headers['content-length'] !== undefined && req.headers['content-length'] !== '0') ||
      req.headers['transfer-encoding'] !== undefined;
    host.callOnRequestHeaders(id, headers, !hasBody);
    if (hasBody) {
      feed(
        req,
        (chunk, eos) => host.callOnRequestBody(id, chunk, eos),
        (t) => host.callOnRequestTrailers(id, t),
      );
    } else {
      req.resume();
    }
  }

  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.listen?.port ?? 0, opts.listen?.host ?? '127.0.0.1', () => resolve());
    });
  } catch (error) {
    agent.destroy();
    if (owned) host.shutdown();
    throw error;
  }
  const addr = server.address() as AddressInfo;
  return {
    url: `http://${addr.address}:${addr.port}`,
    host,
    close: async () => {
      closed = true;
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      });
      agent.destroy();
      if (owned) host.shutdown();
    },
  };
}
