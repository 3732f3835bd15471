// A loopback HTTP server standing in for back-python (the callout target), recording every request
// and answering each one as the test scripts it: status, delay, hold until released, or a reset in
// the middle of the response.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Teardown, listenLoopback } from './loopback.js';

export interface SeenRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  rawHeaders: string[];
  body: string;
  /** process.hrtime.bigint() when the request arrived / when the answer was fully written. */
  arrivedAt: bigint;
  answeredAt?: bigint;
}

export interface Answer {
  status?: number;
  body?: string;
  /** Wait this long before answering. */
  delayMs?: number;
  /** Wait for this before answering. */
  hold?: Promise<unknown>;
  /** Send the headers and part of the body, then destroy the connection. */
  resetMidResponse?: boolean;
}

export interface BackPython {
  url: string;
  seen: SeenRequest[];
  /** Resolves once `n` requests have arrived. */
  arrived(n: number): Promise<void>;
  close(): Promise<void>;
}

export async function startBackPython(
  t: Teardown,
  answer: (req: SeenRequest, index: number) => Answer = () => ({}),
  host: '127.0.0.1' | '::1' = '127.0.0.1',
): Promise<BackPython> {
  const seen: SeenRequest[] = [];
  const waiters: Array<{ n: number; resolve: () => void }> = [];
  const loopback = await listenLoopback(
    t,
    (rq, rs) => {
      const chunks: Buffer[] = [];
      rq.on('data', (c: Buffer) => chunks.push(c));
      rq.on('end', () => {
        const entry: SeenRequest = {
          method: rq.method ?? '',
          url: rq.url ?? '',
          headers: rq.headers,
          rawHeaders: rq.rawHeaders,
          body: Buffer.concat(chunks).toString(),
          arrivedAt: process.hrtime.bigint(),
        };
        const index = seen.push(entry) - 1;
        for (const w of waiters.filter((x) => seen.length >= x.n)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve();
        }
        void respond(entry, index, rs);
      });
    },
    host,
  );
  async function respond(entry: SeenRequest, index: number, rs: http.ServerResponse) {
    const a = answer(entry, index);
    if (a.delayMs) await new Promise((r) => setTimeout(r, a.delayMs));
    if (a.hold) await a.hold;
    if (rs.destroyed) return;
    const body = a.body ?? 'jumped';
    if (a.resetMidResponse) {
      rs.writeHead(a.status ?? 200, { 'content-length': String(body.length + 100) });
      rs.write(body, () => rs.socket?.destroy());
      return;
    }
    rs.writeHead(a.status ?? 200, { 'content-type': 'text/plain' });
    rs.end(body, () => {
      entry.answeredAt = process.hrtime.bigint();
    });
  }
  return {
    url: loopback.url,
    seen,
    arrived: (n) =>
      seen.length >= n ? Promise.resolve() : new Promise<void>((resolve) => waiters.push({ n, resolve })),
    close: loopback.close,
  };
}

/** A loopback URL where nothing listens (connection refused). */
export async function refusingUrl(): Promise<string> {
  const server = http.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((r) => server.close(() => r()));
  return `http://127.0.0.1:${port}`;
}

/** A plain loopback upstream (back-golang's stand-in) that answers every request with 200 "ok". */
export async function startUpstream(t: Teardown): Promise<{ url: string; seen: SeenRequest[] }> {
  const b = await startBackPython(t, () => ({ status: 200, body: 'ok' }));
  return { url: b.url, seen: b.seen };
}

/** One client request through `url`, resolving with the response and when it completed. */
export function clientGet(
  url: string,
  headers: Record<string, string> = {},
  timeoutMs = 10_000,
): Promise<{
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  completedAt: bigint;
}> {
  return new Promise((resolve, reject) => {
    // A response that never comes fails the test instead of hanging it.
    const rq = http.request(url, { method: 'GET', headers, agent: false, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks).toString(),
          completedAt: process.hrtime.bigint(),
        }),
      );
      res.on('error', reject);
    });
    rq.on('timeout', () => rq.destroy(new Error(`no response from ${url} within ${timeoutMs} ms`)));
    rq.on('error', reject);
    rq.end();
  });
}
