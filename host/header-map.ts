// A header map with the semantics of Envoy's HeaderMapImpl as seen through the proxy-wasm ABI
// (Envoy context.cc *HeaderMapValue): lower-cased keys, pseudo-headers kept first, `add` appends
// ",value" to an existing *inline* header and adds a second entry otherwise, `replace` overwrites the
// first entry (or adds), `remove` drops every entry of that name, byteSize = Σ key + value lengths.

import type { Headers } from './pairs.js';

// Envoy's inline (O(1)) headers: the core request/response set from header_map_impl.h plus the
// custom inline headers registered by the default HTTP filters. `addCopy` on one of these
// coalesces. The exact set depends on the Envoy build; this covers the headers meshwasm touches.
const INLINE_HEADERS: ReadonlySet<string> = new Set([
  ':authority',
  ':method',
  ':path',
  ':scheme',
  ':protocol',
  ':status',
  'connection',
  'content-type',
  'content-length',
  'keep-alive',
  'proxy-connection',
  'proxy-status',
  'x-request-id',
  'transfer-encoding',
  'upgrade',
  'via',
  'te',
  'expect',
  'user-agent',
  'grpc-timeout',
  'x-forwarded-for',
  'x-forwarded-host',
  'x-forwarded-proto',
  'x-forwarded-client-cert',
  'x-client-trace-id',
  'x-envoy-internal',
  'x-envoy-original-path',
  'x-envoy-attempt-count',
  'x-envoy-decorator-operation',
  'x-envoy-upstream-service-time',
  'x-envoy-expected-rq-timeout-ms',
  'date',
  'server',
  'location',
  'authorization',
  'accept',
  'accept-encoding',
  'cache-control',
  'content-encoding',
  'etag',
  'origin',
  'referer',
  'grpc-accept-encoding',
]);

export function lowerKey(key: string): string {
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    if (c >= 65 && c <= 90) return key.toLowerCase();
  }
  return key;
}

export class HeaderMap {
  private readonly list: Array<[string, string]> = [];
  private pseudoCount = 0;

  constructor(initial?: ReadonlyArray<readonly [string, string]>) {
    if (!initial) return;
    // Two passes put pseudo-headers first without splicing.
    const list = this.list;
    for (let i = 0; i < initial.length; i++) {
      const e = initial[i]!;
      const k = lowerKey(e[0]);
      if (k.charCodeAt(0) === 58) list.push([k, e[1]]);
    }
    this.pseudoCount = list.length;
    for (let i = 0; i < initial.length; i++) {
      const e = initial[i]!;
      const k = lowerKey(e[0]);
      if (k.charCodeAt(0) !== 58) list.push([k, e[1]]);
    }
  }

  /** Appends an entry, keeping pseudo-headers (":x") in front of regular ones like HeaderList::insert. */
  private insert(key: string, value: string): void {
    if (key.charCodeAt(0) === 58 /* ':' */) {
      this.list.splice(this.pseudoCount, 0, [key, value]);
      this.pseudoCount++;
    } else {
      this.list.push([key, value]);
    }
  }

  get size(): number {
    return this.list.length;
  }

  /** First value for the key (Envoy returns only entry[0]). */
  get(key: string): string | undefined {
    const k = lowerKey(key);
    for (const e of this.list) if (e[0] === k) return e[1];
    return undefined;
  }

  has(key: string): boolean {
    return this.get(key) !== undefined;
  }

  /** addCopy. */
  add(key: string, value: string): void {
    const k = lowerKey(key);
    if (INLINE_HEADERS.has(k)) {
      for (const e of this.list) {
        if (e[0] === k) {
          e[1] = e[1].length === 0 ? value : `${e[1]},${value}`;
          return;
        }
      }
    }
    this.insert(k, value);
  }

  /** setCopy: replace the first entry's value, or add. */
  replace(key: string, value: string): void {
    const k = lowerKey(key);
    for (const e of this.list) {
      if (e[0] === k) {
        e[1] = value;
        return;
      }
    }
    this.insert(k, value);
  }

  remove(key: string): void {
    const k = lowerKey(key);
    for (let i = this.list.length - 1; i >= 0; i--) {
      if (this.list[i]![0] === k) {
        this.list.splice(i, 1);
        if (i < this.pseudoCount) this.pseudoCount--;
      }
    }
  }

  /** set_header_map_pairs: remove every key, then addCopy each pair. */
  setAll(pairs: ReadonlyArray<readonly [string, string]>): void {
    this.list.length = 0;
    this.pseudoCount = 0;
    for (const [k, v] of pairs) this.add(k, v);
  }

  byteSize(): number {
    let n = 0;
    for (const [k, v] of this.list) n += Buffer.byteLength(k) + Buffer.byteLength(v);
    return n;
  }

  /** A copy of the entries, in Envoy's iteration order. */
  toArray(): Headers {
    return this.list.map(([k, v]) => [k, v]);
  }

  /** The live entries (no copy) for serialization on the hot path. Do not mutate. */
  entries(): ReadonlyArray<readonly [string, string]> {
    return this.list;
  }
}
