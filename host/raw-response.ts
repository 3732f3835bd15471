// A response written straight to the client socket, for what Envoy's HTTP/1 codec sends but Node's
// ServerResponse refuses to write (a status outside 100..999, a header name that is not a token,
// a value with a control character). Envoy encodes response headers without validating them; a
// guest that produces such a response gets exactly those bytes on the wire here too. The
// connection closes after this response, so a broken response never poisons the next one.
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { Headers } from './pairs.js';

export class RawResponse {
  private readonly chunked: boolean;
  private ended = false;

  constructor(
    private readonly socket: Socket,
    status: string,
    headers: Headers,
    endStream: boolean,
  ) {
    let head = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Unknown'}\r\n`;
    let hasLength = false;
    for (const [k, v] of headers) {
      if (k.charCodeAt(0) === 58 || k === 'connection' || k === 'transfer-encoding') continue;
      if (k === 'content-length') hasLength = true;
      head += `${k}: ${v}\r\n`;
    }
    this.chunked = !hasLength && !endStream;
    if (this.chunked) head += 'transfer-encoding: chunked\r\n';
    head += 'connection: close\r\n\r\n';
    socket.write(Buffer.from(head, 'utf8'));
    if (endStream) this.end();
  }

  data(chunk: Uint8Array, endStream: boolean): void {
    if (this.ended) return;
    if (chunk.length > 0) {
      if (this.chunked) this.socket.write(`${chunk.length.toString(16)}\r\n`);
      this.socket.write(chunk);
      if (this.chunked) this.socket.write('\r\n');
    }
    if (endStream) this.end();
  }

  trailers(trailers: Headers): void {
    if (this.ended) return;
    if (this.chunked) {
      let tail = '0\r\n';
      for (const [k, v] of trailers) tail += `${k}: ${v}\r\n`;
      this.socket.write(Buffer.from(`${tail}\r\n`, 'utf8'));
    }
    this.ended = true;
    this.socket.end();
  }

  private end(): void {
    this.ended = true;
    if (this.chunked) this.socket.write('0\r\n\r\n');
    this.socket.end();
  }
}
