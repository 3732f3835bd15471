// Header bytes on the wire. The guest sees header values as UTF-8 strings; Node's HTTP code reads
// and writes headers as latin1 (one char per byte). These helpers convert between the two so the
// bytes Envoy would put on the wire are the bytes Node puts there, and check a request's headers
// the way Envoy's upstream HTTP/1 codec does before it sends anything.
import type { Headers } from './pairs.js';

const NON_ASCII = /[\u0080-\uffff]/;

/** A UTF-8 string as the latin1 string of its bytes (what Node writes byte for byte). */
export function toWire(s: string): string {
  return NON_ASCII.test(s) ? Buffer.from(s, 'utf8').toString('latin1') : s;
}

/** Bytes Node read as latin1, decoded as the UTF-8 the guest sees. */
export function fromWire(s: string): string {
  return NON_ASCII.test(s) ? Buffer.from(s, 'latin1').toString('utf8') : s;
}

// nghttp2's header name/value rules, which Envoy's codecs apply to requests it sends upstream:
// names are lower-case tokens (a pseudo-header's leading ':' aside), values have no control
// characters other than HTAB (space and bytes >= 0x80 are fine).
const TOKEN = /^[a-z0-9!#$%&'*+.^_`|~-]+$/;
// eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
const BAD_VALUE = /[\x00-\x08\x0a-\x1f\x7f]/;

/**
 * The 503 body Envoy's router answers with when the upstream codec refuses a request's headers
 * ("invalid header name: x v", "invalid header value for: x-bad"), or undefined if it would send it.
 */
export function refusedRequestHeader(headers: Headers): string | undefined {
  for (const [k, v] of headers) {
    const name = k.charCodeAt(0) === 58 ? k.slice(1) : k;
    if (!TOKEN.test(name)) return `invalid header name: ${k}`;
    if (BAD_VALUE.test(v)) return `invalid header value for: ${k}`;
  }
  return undefined;
}

const NODE_TOKEN = /^[\^_`a-zA-Z\-0-9!#$%&'*+.|~]+$/;
const NODE_BAD_VALUE = /[^\t\x20-\x7e\x80-\xff]/;

/** Whether Node's http module would accept this (wire-form) header; Envoy writes some it refuses. */
export function nodeWritable(name: string, wireValue: string): boolean {
  return NODE_TOKEN.test(name) && !NODE_BAD_VALUE.test(wireValue);
}
