// Byte helpers shared by the host functions and the filter manager.

import { utf8 } from './pairs.js';
import { EMPTY } from './stream.js';

/** What the public API accepts for a body or configuration; strings are UTF-8 encoded. */
export type Bytes = Uint8Array | string;

export const toBytes = (b: Bytes | undefined): Uint8Array =>
  b === undefined ? EMPTY : typeof b === 'string' ? utf8(b) : b;

/** a then b, without copying when either side is empty (the common case for bodies). */
export function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b;
  if (b.length === 0) return a;
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}
