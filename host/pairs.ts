// The proxy-wasm header-pair wire format (SPEC "Serialization"; cpp-host src/pairs_util.cc):
//   u32 count | count × (u32 keyLen, u32 valueLen) | key0 \0 value0 \0 key1 \0 value1 \0 …
// all little-endian. Guest → host buffers are parsed strictly: anything malformed, more than
// 1024 pairs or more than 1 MiB is treated as an EMPTY map, without an error code (Envoy's toPairs).

export type Headers = Array<[string, string]>;

export const PAIRS_MAX_COUNT = 1024; // PROXY_WASM_HOST_PAIRS_MAX_COUNT
export const PAIRS_MAX_BYTES = 1024 * 1024; // PROXY_WASM_HOST_PAIRS_MAX_BYTES

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false;
  return true;
}

function writeAscii(out: Uint8Array, pos: number, s: string): void {
  for (let i = 0; i < s.length; i++) out[pos + i] = s.charCodeAt(i);
}

/** Decodes UTF-8; short ASCII (almost every header) skips TextDecoder. */
export function fromUtf8(b: Uint8Array): string {
  if (b.length > 128) return decoder.decode(b);
  for (let i = 0; i < b.length; i++) if (b[i]! > 0x7f) return decoder.decode(b);
  return String.fromCharCode.apply(null, b as unknown as number[]);
}

/** UTF-8 bytes of a string; header names and values are nearly always ASCII, which skips TextEncoder. */
export function utf8(s: string): Uint8Array {
  if (!isAscii(s)) return encoder.encode(s);
  const out = new Uint8Array(s.length);
  writeAscii(out, 0, s);
  return out;
}

/** Serializes pairs (host → guest). An empty list gives the 4-byte buffer 00000000. */
export function encodePairs(pairs: ReadonlyArray<readonly [string, string]>): Uint8Array {
  const n = pairs.length;
  let ascii = true;
  let size = 4 + 8 * n;
  for (let i = 0; i < n; i++) {
    const p = pairs[i]!;
    if (ascii && (!isAscii(p[0]) || !isAscii(p[1]))) ascii = false;
    size += p[0].length + p[1].length + 2;
  }
  if (!ascii) return encodePairsUtf8(pairs);
  const out = new Uint8Array(size);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, n, true);
  let pos = 4;
  for (let i = 0; i < n; i++) {
    const p = pairs[i]!;
    dv.setUint32(pos, p[0].length, true);
    dv.setUint32(pos + 4, p[1].length, true);
    pos += 8;
  }
  for (let i = 0; i < n; i++) {
    const p = pairs[i]!;
    writeAscii(out, pos, p[0]);
    pos += p[0].length + 1; // the NUL is already 0
    writeAscii(out, pos, p[1]);
    pos += p[1].length + 1;
  }
  return out;
}

function encodePairsUtf8(pairs: ReadonlyArray<readonly [string, string]>): Uint8Array {
  const n = pairs.length;
  const keys: Uint8Array[] = new Array(n);
  const values: Uint8Array[] = new Array(n);
  let size = 4 + 8 * n;
  for (let i = 0; i < n; i++) {
    const [k, v] = pairs[i]!;
    keys[i] = encoder.encode(k);
    values[i] = encoder.encode(v);
    size += keys[i]!.length + values[i]!.length + 2;
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
    pos += keys[i]!.length + 1;
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
    const key = fromUtf8(buf.subarray(pos, pos + kl));
    pos += kl;
    if (buf[pos++] !== 0) return [];
    if (pos + vl + 1 > size) return [];
    const value = fromUtf8(buf.subarray(pos, pos + vl));
    pos += vl;
    if (buf[pos++] !== 0) return [];
    out[i] = [key, value];
  }
  if (pos !== size) return [];
  return out;
}
