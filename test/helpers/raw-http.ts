// Raw HTTP/1.1 over a socket, for exchanges Node's client refuses to send or parse (an absolute-form
// target, a response with a status outside 100..999 or a header with LF): the bytes as received.
import net from 'node:net';

/** Sends `request` (a whole request head, `connection: close` included) and returns every byte received. */
export function rawExchange(url: string, request: string, timeoutMs = 5000): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const s = net.connect(Number(port), hostname);
    const chunks: Buffer[] = [];
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('error', () => undefined);
    s.on('close', () => resolve(Buffer.concat(chunks).toString('utf8')));
    s.write(request);
    setTimeout(() => s.destroy(), timeoutMs).unref();
  });
}

export const simpleGet = (path = '/') => `GET ${path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n`;

/** A loopback TCP server that records each request head and answers with `reply(path)`. */
export async function rawUpstream(
  t: { teardown(fn: () => unknown): void },
  reply: (path: string) => string = () => 'HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok',
  opts: { close?: boolean } = {},
): Promise<{ port: number; url: string; heads: string[] }> {
  const heads: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    let buf = Buffer.alloc(0);
    s.on('data', (c: Buffer) => {
      buf = Buffer.concat([buf, c]);
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = buf.subarray(0, end).toString('utf8');
      buf = buf.subarray(end + 4);
      heads.push(head);
      s.write(reply(head.split(' ')[1] ?? '/'));
      if (opts.close) s.end();
    });
    s.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(
    () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  );
  const port = (server.address() as net.AddressInfo).port;
  return { port, url: `http://127.0.0.1:${port}`, heads };
}
