// Loopback HTTP servers for tests: listen on 127.0.0.1 on a free port, and close at teardown with
// every open connection (keep-alive or mid-response) destroyed, so a test never waits on a socket.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Teardown {
  teardown(fn: () => unknown): void;
}

export interface Loopback {
  url: string;
  server: http.Server;
  /** Idempotent; also runs at teardown. */
  close(): Promise<void>;
}

/** `host` '::1' is for a client that resolves a name like x.localhost, which Envoy's resolver makes ::1. */
export async function listenLoopback(
  t: Teardown,
  handler: http.RequestListener,
  host: '127.0.0.1' | '::1' = '127.0.0.1',
): Promise<Loopback> {
  const server = http.createServer(handler);
  await new Promise<void>((r) => server.listen(0, host, r));
  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    }));
  t.teardown(close);
  const port = (server.address() as AddressInfo).port;
  return { url: `http://${host === '::1' ? '[::1]' : host}:${port}`, server, close };
}
