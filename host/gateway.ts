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
  UPSTREAM_TIMEOUT_BODY,
  requestTarget,
  routerReply,
} from './http-call.js';
import type { Headers } from './pairs.js';
import type { StreamSink } from './stream.js';

export interface GatewayOptions {
  /** A started host, or options to start one (the gateway then owns and shuts it down). */
  host: ProxyWasmHost | HostOptions;
  /** Where allowed requests go: 'http://127.0.0.1:PORT'. */
  upstream: string;
  listen?: { port?: number; host?: string };
  /** Route timeout for the upstream request (Envoy's default is 15 s); 0 = none. */
  routeTimeoutMs?: number;
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

function rawToPairs(raw: string[]): Headers {
  const out: Headers = [];
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const k = raw[i]!.toLowerCase();
    if (!HOP_BY_HOP.has(k)) out.push([k, raw[i + 1]!]);
  }
  return out;
}

function toRaw(headers: Headers): string[] {
  const out: string[] = [];
  for (const [k, v] of headers) if (k.charCodeAt(0) !== 58) out.push(k, v);
  return out;
}

export async function startGateway(opts: GatewayOptions): Promise<Gateway> {
  const upstream = new URL(opts.upstream);
  if (upstream.protocol !== 'http:')
    throw new Error(`upstream: only http:// is supported (got '${opts.upstream}')`);
  const owned = !(opts.host instanceof ProxyWasmHost);
  const host = opts.host instanceof ProxyWasmHost ? opts.host : await ProxyWasmHost.start(opts.host);
  host.enableRealTicks();
  const routeTimeoutMs = opts.routeTimeoutMs ?? 15_000;
  const agent = new http.Agent({ keepAlive: true });
  const sockets = new Set<Socket>();

  const server = http.createServer((req, res) => handle(req, res));
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });

  function handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const sock = req.socket;
    const id = host.initializeHttpContext({
      source: `${sock.remoteAddress}:${sock.remotePort}`,
      destination: `${sock.localAddress}:${sock.localPort}`,
      protocol: `HTTP/${req.httpVersion}`,
    });
    let finished = false;
    let upstreamReq: http.ClientRequest | undefined;
    let upstreamTimer: NodeJS.Timeout | undefined;
    let responseStarted = false;

    const complete = () => {
      if (finished) return;
      finished = true;
      if (upstreamTimer) clearTimeout(upstreamTimer);
      upstreamReq?.destroy();
      host.completeHttpContext(id);
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
      const ur = http.request({
        agent,
        host: upstream.hostname,
        port: upstream.port || 80,
        method,
        path,
        headers: [...toRaw(headers), 'host', authority],
        setHost: false,
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
        if (finished) return;
        if (responseStarted) {
          res.destroy();
          return;
        }
        sendUpstreamError(
          503,
          err.code === 'ECONNREFUSED' ? CONNECT_FAILURE_BODY : CONNECTION_TERMINATION_BODY,
        );
      });
      if (eos) ur.end();
    };

    const sink: StreamSink = {
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
        if (res.headersSent || res.destroyed) return;
        const status = Number(h.find(([k]) => k === ':status')?.[1] ?? 502);
        res.writeHead(status, toRaw(h));
        if (eos) res.end();
      },
      responseData: (data, eos) => {
        if (res.destroyed) return;
        if (data.length > 0) res.write(data);
        if (eos) res.end();
      },
      responseTrailers: (t) => {
        if (res.destroyed) return;
        res.addTrailers(Object.fromEntries(t));
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
    };
    host.attachStreamSink(id, sink);

    res.on('close', complete);

    // Envoy's HCM view of the request headers.
    const headers: Headers = [
      [':authority', req.headers.host ?? ''],
      [':path', req.url ?? '/'],
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
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      });
      agent.destroy();
      if (owned) host.shutdown();
    },
  };
}
