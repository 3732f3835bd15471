// Real HTTP for proxy_http_call: sends the callout to the URL a cluster is mapped to and reports
// the outcome the way Envoy's AsyncClient + router report it to the wasm Context:
//   - any upstream answer (200, 500, ...)                → success with that response
//   - timeout before response headers                     → success: 504 "upstream request timeout"
//   - connect failure                                     → success: 503 "upstream connect error or
//                                                           disconnect/reset before headers. reset reason: connection failure"
//   - connection closed/reset before response headers     → success: 503 "... reset reason: connection termination"
//   - reset (or timeout) after response headers           → failure ("reset": on_http_call_response(root, token, 0, 0, 0))
// Requests carry what the async client adds: content-length for a body, x-envoy-internal: true,
// x-envoy-expected-rq-timeout-ms when a timeout is set; no x-forwarded-for (send_xff = false).

import http from 'node:http';
import type { Headers } from './pairs.js';
import { refusedRequestHeader, toWire } from './wire.js';

export interface CalloutRequest {
  headers: Headers; // lower-cased, pseudo-headers included (:method, :path, :authority)
  body: Uint8Array;
  trailers: Headers;
  timeoutMs: number; // 0 = no timeout
  /** A reply the router makes without sending anything (circuit-breaker overflow), delivered later. */
  localReply?: CalloutResponse;
}

export interface CalloutResponse {
  headers: Headers; // ':status' first, lower-cased
  body: Uint8Array;
  trailers: Headers;
}

export interface CalloutHandlers {
  success(response: CalloutResponse): void;
  failure(reason: 'reset'): void;
}

export const UPSTREAM_TIMEOUT_BODY = 'upstream request timeout';
export const CONNECT_FAILURE_BODY =
  'upstream connect error or disconnect/reset before headers. reset reason: connection failure';
export const CONNECTION_TERMINATION_BODY =
  'upstream connect error or disconnect/reset before headers. reset reason: connection termination';
export const OVERFLOW_BODY =
  'upstream connect error or disconnect/reset before headers. reset reason: overflow';
export const PROTOCOL_ERROR_BODY =
  'upstream connect error or disconnect/reset before headers. reset reason: protocol error';

/**
 * Envoy's AsyncClient buffers a whole callout response up to 32 MiB (runtime key
 * http.async_response_buffer_limit); past that it drains the data and resets the call, which the
 * wasm filter sees as a failed callout ("reset").
 */
export const CALLOUT_RESPONSE_BUFFER_LIMIT = 32 * 1024 * 1024;

// Node refuses request targets outside 0x21..0xff; Envoy sends them (a space in a path included).
const NODE_BAD_PATH = /[^\u0021-\u00ff]/;

/**
 * http.request with a raw header list, also for a path Node's option check refuses: then the
 * request is created with a placeholder path and given the real one before its head is written
 * (Node writes the head on the first write when headers are passed as an object).
 */
export function openRequest(o: {
  agent: http.Agent;
  host: string;
  port: string | number;
  method: string;
  path: string;
  headers: string[];
}): http.ClientRequest {
  const base = { agent: o.agent, host: o.host, port: o.port, method: o.method, setHost: false };
  if (!NODE_BAD_PATH.test(o.path)) return http.request({ ...base, path: o.path, headers: o.headers });
  const byName: Record<string, string | string[]> = Object.create(null) as Record<string, string[]>;
  for (let i = 0; i + 1 < o.headers.length; i += 2) {
    const [k, v] = [o.headers[i]!, o.headers[i + 1]!];
    const had = byName[k];
    byName[k] = had === undefined ? v : [...(Array.isArray(had) ? had : [had]), v];
  }
  const req = http.request({ ...base, path: '/', headers: byName });
  req.path = o.path;
  return req;
}

/** A response the router generates itself (Envoy Utility::prepareLocalReply for plain HTTP). */
export function routerReply(status: number, body: string, extra: Headers = []): CalloutResponse {
  const bytes = Buffer.from(body);
  return {
    headers: [
      [':status', String(status)],
      ...extra,
      ['content-length', String(bytes.length)],
      ['content-type', 'text/plain'],
    ],
    body: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length),
    trailers: [],
  };
}

function rawPairs(raw: string[]): Headers {
  const out: Headers = [];
  for (let i = 0; i + 1 < raw.length; i += 2) out.push([raw[i]!.toLowerCase(), raw[i + 1]!]);
  return out;
}

/** Parses 'http://127.0.0.1:PORT[/prefix]' once per cluster. Only loopback HTTP is accepted. */
export function parseClusterUrl(cluster: string, url: string): URL {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new Error(`clusters.${cluster}: '${url}' is not a URL; use 'http://127.0.0.1:PORT' or 'manual'`);
  }
  if (u.protocol !== 'http:') {
    throw new Error(`clusters.${cluster}: only http:// upstreams are supported (got '${u.protocol}')`);
  }
  return u;
}

/**
 * The request line of a proxied request: :method, :path (under the upstream URL's own path, so a
 * cluster or upstream may be http://host:port/prefix) and :authority (the upstream's host if absent).
 * Shared by callouts and the gateway's upstream requests.
 */
export function requestTarget(
  upstream: URL,
  headers: Headers,
): { method: string; path: string; authority: string } {
  let method = 'GET';
  let path = '/';
  let authority = upstream.host;
  for (const [k, v] of headers) {
    if (k === ':method') method = v;
    else if (k === ':path') path = v;
    else if (k === ':authority') authority = v;
  }
  const base = upstream.pathname === '/' ? '' : upstream.pathname.replace(/\/$/, '');
  return { method, path: base + path, authority };
}

// Methods Envoy's HTTP/1 codec sends without a body (checked against Envoy 1.40 in
// test/engines-scenarios.test.ts): a headers-only GET, HEAD, DELETE, TRACE or CONNECT carries no
// content-length; every other method gets "content-length: 0" instead of chunked framing.
const BODILESS_METHODS = new Set(['GET', 'HEAD', 'DELETE', 'TRACE', 'CONNECT']);

/**
 * The content-length Envoy's HTTP/1 codec writes for a request without one of its own: the body's
 * length, or for a headers-only request "0" unless the method is bodiless (then none).
 */
export function headersOnlyContentLength(method: string, bodyLength: number): string | undefined {
  if (bodyLength > 0) return String(bodyLength);
  return BODILESS_METHODS.has(method.toUpperCase()) ? undefined : '0';
}

/**
 * Whether the pool holds an idle connection to `target`. Envoy then attaches a new request at once,
 * so a refusal (codec or circuit breaker) completes inside AsyncClient::send, which returns null:
 * proxy_http_call gives InternalFailure and no callback follows. Without one, the refusal comes
 * after a new connection is up, as a 503 delivered to on_http_call_response.
 */
export function hasIdleConnection(agent: http.Agent, target: URL): boolean {
  const name = agent.getName({ host: target.hostname, port: Number(target.port) || 80 });
  return (agent.freeSockets[name]?.length ?? 0) > 0;
}

/**
 * Starts the callout. Returns a function that cancels it silently (no handler is called), which is
 * what Envoy does to pending calls when the root context goes away.
 */
export function sendCallout(
  target: URL,
  agent: http.Agent,
  req: CalloutRequest,
  handlers: CalloutHandlers,
): () => void {
  const { method, path, authority } = requestTarget(target, req.headers);
  const refused = refusedRequestHeader(req.headers);
  const local = req.localReply ?? (refused === undefined ? undefined : routerReply(503, refused));
  if (local !== undefined) {
    // Envoy's upstream codec refuses the headers (or the pool overflows) once a new connection is
    // up: the router answers 503 with the reason, after proxy_http_call has returned Ok.
    let cancelled = false;
    setImmediate(() => {
      if (!cancelled) handlers.success(local);
    });
    return () => {
      cancelled = true;
    };
  }
  // Host takes :authority's place (first), as Envoy's HTTP/1 codec writes it.
  const outHeaders: string[] = ['host', toWire(authority)];
  const hasTrailers = req.trailers.length > 0;
  // A content-length the guest set goes out as set (Envoy's HTTP/1 codec writes it and does not
  // chunk); callouts.ts already replaced it with the body's length when there is a body.
  let contentLength = false;
  for (const [k, v] of req.headers) {
    if (k.charCodeAt(0) === 58 || k === 'host') continue;
    if (k === 'content-length') {
      if (hasTrailers) continue;
      contentLength = true;
    }
    outHeaders.push(k, toWire(v));
  }
  outHeaders.push('x-envoy-internal', 'true');
  if (req.timeoutMs > 0) outHeaders.push('x-envoy-expected-rq-timeout-ms', String(req.timeoutMs));
  if (hasTrailers) {
    outHeaders.push('transfer-encoding', 'chunked', 'trailer', req.trailers.map(([k]) => k).join(', '));
  } else if (!contentLength) {
    const length = headersOnlyContentLength(method, req.body.length);
    if (length !== undefined) outHeaders.push('content-length', length);
  }

  let settled = false;
  let gotHeaders = false;
  let timer: NodeJS.Timeout | undefined;
  const started = Date.now();

  const finish = (fn: () => void) => {
    if (settled) return;
    settled = true;
    if (timer) clearTimeout(timer);
    fn();
  };

  let cr: http.ClientRequest;
  try {
    cr = openRequest({
      agent,
      host: target.hostname,
      port: target.port || 80,
      method,
      path: toWire(path),
      headers: outHeaders,
    });
  } catch {
    // Anything else Node's client refuses fails this callout only (a reset), never the VM.
    const failLater = setImmediate(() => handlers.failure('reset'));
    return () => clearImmediate(failLater);
  }

  cr.on('response', (res) => {
    gotHeaders = true;
    let chunks: Buffer[] = [];
    let buffered = 0;
    res.on('data', (c: Buffer) => {
      if (settled) return;
      buffered += c.length;
      if (buffered > CALLOUT_RESPONSE_BUFFER_LIMIT) {
        chunks = [];
        cr.destroy();
        finish(() => handlers.failure('reset'));
        return;
      }
      chunks.push(c);
    });
    res.on('end', () => {
      finish(() => {
        const headers: Headers = [[':status', String(res.statusCode ?? 0)]];
        for (const p of rawPairs(res.rawHeaders)) headers.push(p);
        // The router stamps proxied responses with the upstream service time.
        headers.push(['x-envoy-upstream-service-time', String(Date.now() - started)]);
        const body = Buffer.concat(chunks);
        chunks = [];
        handlers.success({
          headers,
          body: new Uint8Array(body.buffer, body.byteOffset, body.length),
          trailers: rawPairs(res.rawTrailers),
        });
      });
    });
    res.on('aborted', () => finish(() => handlers.failure('reset')));
    res.on('error', () => finish(() => handlers.failure('reset')));
  });

  cr.on('error', (err: NodeJS.ErrnoException) => {
    finish(() => {
      if (gotHeaders) {
        handlers.failure('reset');
        return;
      }
      const connectPhase =
        err.code === 'ECONNREFUSED' ||
        err.code === 'EHOSTUNREACH' ||
        err.code === 'ENETUNREACH' ||
        err.code === 'EADDRNOTAVAIL' ||
        err.code === 'ETIMEDOUT';
      handlers.success(routerReply(503, connectPhase ? CONNECT_FAILURE_BODY : CONNECTION_TERMINATION_BODY));
    });
  });

  if (req.timeoutMs > 0) {
    timer = setTimeout(() => {
      finish(() => {
        cr.destroy();
        if (gotHeaders) handlers.failure('reset');
        else handlers.success(routerReply(504, UPSTREAM_TIMEOUT_BODY));
      });
    }, req.timeoutMs);
  }

  if (req.body.length > 0) cr.write(req.body);
  if (hasTrailers) cr.addTrailers(req.trailers);
  cr.end();

  return () => {
    if (settled) return;
    settled = true;
    if (timer) clearTimeout(timer);
    cr.destroy();
  };
}
