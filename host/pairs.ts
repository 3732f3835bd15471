// The proxy-wasm header-pair wire format (SPEC "Serialization"; cpp-host src/pairs_util.cc):
//   u32 count | count × (u32 keyLen, u32 valueLen) | key0 \0 value0 \0 key1 \0 value1 \0 …
// all little-endian. Guest → host buffers are parsed strictly: anything malformed, more than
// 1024 pairs or more than 1 MiB is treated as an EMPTY map, without an error code (Envoy's toPairs).

export type Headers = Array<[string, string]>;

export const PAIRS_MAX_COUNT = 1024; // PROXY_WASM_HOST_PAIRS_MAX_COUNT
export const PAIRS_MAX_BYTES = 1024 * 1024; // PROXY_WASM_HOST_PAIRS_MAX_BYTES

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Serializes pairs (host → guest). An empty list gives the 4-byte buffer 00000000. */
export function encodePairs(pairs: ReadonlyArray<readonly [string, string]>): Uint8Array {
  const n = pairs.length;
  const keys: Uint8Array[] = new Array(n);
  const values: Uint8Array[] = new Array(n);
  let size = 4 + 8 * n;
  for (let i = 0; i < n; i++) {
    const [k, v] = pairs[i]!;
    const kb = encoder.encode(k);
    const vb = encoder.encode(v);
    keys[i] = kb;
    values[i] = vb;
    size += kb.length + vb.length + 2;
  }
  const out = new Uint8Array(size);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, n, true);
  let pos = 4;
  for (let i = 0; i < n; i++) {
    dv.setUint32(pos, keys[i]!.length, true);
    dv.setUint32(pos + 4, values[i]!.length, true);
    pos += 8;
  }
  for (let i = 0; i < n; i++) {
    out.set(keys[i]!, pos);
    pos += keys[i]!.length + 1; // NUL already 0
    out.set(values[i]!, pos);
    pos += values[i]!.length + 1;
  }
  return out;
}

/** Parses pairs (guest → host) exactly as strictly as Envoy: any structural error → []. */
export function decodePairs(buf: Uint8Array): Headers {
  const size = buf.length;
  if (size > PAIRS_MAX_BYTES || size < 4) return [];
  const dv = new DataView(buf.buffer, buf.byteOffset, size);
  const n = dv.getUint32(0, true);
  if (n > PAIRS_MAX_COUNT) return [];
  let pos = 4;
  if (pos + n * 8 > size) return [];
  const lens = new Array<number>(n * 2);
  for (let i = 0; i < n * 2; i++) {
    lens[i] = dv.getUint32(pos, true);
    pos += 4;
  }
  const out: Headers = new Array(n);
  for (let i = 0; i < n; i++) {
    const kl = lens[2 * i]!;
    const vl = lens[2 * i + 1]!;
    if (pos + kl + 1 > size) return [];
    const key = decoder.decode(buf.subarray(pos, pos + kl));
    pos += kl;
    if (buf[pos++] !== 0) return [];
    if (pos + vl + 1 > size) return [];
    const value = decoder.decode(buf.subarray(pos, pos + vl));
    pos += vl;
    if (buf[pos++] !== 0) return [];
    out[i] = [key, value];
  }
  if (pos !== size) return [];
  return out;
}
