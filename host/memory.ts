// Guest linear memory access with the checks cpp-host's V8 wrapper does (getMemory/setWord/setMemory):
// every (ptr, len) is bounds-checked, scalars are little-endian, and the views are refreshed whenever
// memory.buffer changed (a guest call, e.g. malloc, can grow memory and detach the old ArrayBuffer).

import { fromUtf8 } from './pairs.js';

export class GuestMemory {
  private buffer: ArrayBuffer;
  private u8: Uint8Array;
  private dv: DataView;

  constructor(readonly memory: WebAssembly.Memory) {
    this.buffer = memory.buffer;
    this.u8 = new Uint8Array(this.buffer);
    this.dv = new DataView(this.buffer);
  }

  /** Re-creates the views if memory grew since we last looked. Cheap: one getter and a compare. */
  private refresh(): void {
    const b = this.memory.buffer;
    if (b !== this.buffer) {
      this.buffer = b;
      this.u8 = new Uint8Array(b);
      this.dv = new DataView(b);
    }
  }

  get size(): number {
    this.refresh();
    return this.u8.length;
  }

  /** A view of guest bytes, or null when out of bounds. Valid only until the next guest call. */
  view(ptr: number, len: number): Uint8Array | null {
    this.refresh();
    ptr >>>= 0;
    len >>>= 0;
    if (ptr + len > this.u8.length) return null;
    return this.u8.subarray(ptr, ptr + len);
  }

  /** A copy of guest bytes (safe to keep), or null when out of bounds. */
  copy(ptr: number, len: number): Uint8Array | null {
    const v = this.view(ptr, len);
    return v === null ? null : v.slice();
  }

  string(ptr: number, len: number): string | null {
    const v = this.view(ptr, len);
    return v === null ? null : fromUtf8(v);
  }

  setU32(ptr: number, value: number): boolean {
    this.refresh();
    ptr >>>= 0;
    if (ptr + 4 > this.u8.length) return false;
    this.dv.setUint32(ptr, value >>> 0, true);
    return true;
  }

  setU64(ptr: number, value: bigint): boolean {
    this.refresh();
    ptr >>>= 0;
    if (ptr + 8 > this.u8.length) return false;
    this.dv.setBigUint64(ptr, BigInt.asUintN(64, value), true);
    return true;
  }

  setBytes(ptr: number, data: Uint8Array): boolean {
    this.refresh();
    ptr >>>= 0;
    if (ptr + data.length > this.u8.length) return false;
    this.u8.set(data, ptr);
    return true;
  }

  getU32(ptr: number): number | null {
    this.refresh();
    ptr >>>= 0;
    if (ptr + 4 > this.u8.length) return null;
    return this.dv.getUint32(ptr, true);
  }
}
