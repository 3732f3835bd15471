// What the request path needs to issue callouts, computed once per configuration, and the
// per-request assembly of the callout's header pairs.
//
// Header-pair wire format (proxy-wasm): u32 count | count x (u32 keyLen, u32 valueLen) | key\0value\0...
// The fixed headers (:method, :path, :authority and the configured `headers`) are serialized once.
// Per request only the propagated request headers are appended, in reused scratch memory, so the
// request path allocates nothing of its own. Everything here is unmanaged memory and globals: the
// request path never touches the GC.

import { F, HEADER_LIST, headerEntries, lenOf, numOf, PROPAGATE_LIST, propagateEntries, strOf } from "./config";

// Built-in byte strings: the pseudo-header names, the defaults, the default allowlist, and the names
// never taken through a prefix entry: credentials (forwarded only when listed by their exact name)
// and framing / hop-by-hop headers, which describe the client's request and not the callout (those,
// from "content-length" on, are not propagated even when listed by name).
const BUILTIN = String.UTF8.encode(
  ":method\0:path\0:authority\0GET\0/jump\0" +
  "x-request-id\0traceparent\0tracestate\0b3\0x-b3-*\0" +
  "authorization\0cookie\0proxy-authorization\0" +
  "content-length\0transfer-encoding\0connection\0keep-alive\0upgrade\0te\0proxy-connection\0host\0expect\0");
const B_METHOD = 0, B_PATH = 1, B_AUTHORITY = 2, B_GET = 3, B_JUMP = 4, B_ALLOW = 5, B_ALLOW_COUNT = 5;
const B_DENY = 10, B_CREDENTIALS_COUNT = 3, B_DENY_COUNT = 12;
let builtinLen: u32 = 0;

// Returns the pointer of built-in entry i; its length is left in builtinLen.
function builtin(i: i32): usize {
  let p = changetype<usize>(BUILTIN);
  while (i-- > 0) { while (load<u8>(p) != 0) p++; p++; }
  let e = p;
  while (load<u8>(e) != 0) e++;
  builtinLen = <u32>(e - p);
  return p;
}

// ---- The plan (valid from one successful configure to the next) -----------------------------
export let enabled = false;         // a cluster is configured and fanOut > 0
export let blocking = false;        // mode: blocking
export let onResponse = false;      // trigger: response headers
export let clusterPtr: usize = 0;
export let clusterLen: u32 = 0;
export let bodyPtr: usize = 0;
export let bodyLen: u32 = 0;
export let outcomePtr: usize = 0;   // outcome header name; outcomeLen 0 = none
export let outcomeLen: u32 = 0;
export let timeoutMs: u32 = 0;
export let fanOut: u32 = 0;
export let maxInFlight: u32 = 0;
export let failureStatus: u32 = 0;
export let sampleAll = true;        // exactly floor(n * rate) of n requests are sampled, rate rounded to 1e-9
export let sampleNumerator: u64 = 0;
export const SAMPLE_DENOMINATOR: u64 = 1000000000;
export let propagates = false;

const FIXED_ENTRIES = memory.data((6 + 128) * 8); // (ptr, len) of :method, value, :path, value, :authority, value, headers...
let fixedPairs: usize = 0;          // the complete pairs buffer of the fixed headers
let fixedLen: u32 = 0;
let fixedCount: u32 = 0;

// Allowlist entries as (ptr, len): exact names, then prefixes (without the '*').
const ALLOW = memory.data(64 * 8);
let exactCount: u32 = 0;
let prefixCount: u32 = 0;
// Names a prefix entry never selects, as (ptr, len): credentials, framing, the configured headers.
const DENY = memory.data((B_DENY_COUNT + 64) * 8);
let denyCount: u32 = 0;

/** Turns the parsed configuration (config.ts) into the plan. */
export function buildPlan(): void {
  blocking = numOf(F.Mode) == 1;
  onResponse = numOf(F.Trigger) == 1;
  fanOut = <u32>numOf(F.FanOut);
  timeoutMs = <u32>numOf(F.TimeoutMs);
  maxInFlight = <u32>numOf(F.MaxInFlight);
  failureStatus = <u32>numOf(F.FailureStatus);
  const rate = numOf(F.SampleRate);
  sampleAll = rate >= 1;
  sampleNumerator = <u64>Math.round(rate * <f64>SAMPLE_DENOMINATOR);
  enabled = lenOf(F.Cluster) > 0 && fanOut > 0;
  clusterPtr = strOf(F.Cluster);
  clusterLen = <u32>max(lenOf(F.Cluster), 0);
  bodyPtr = strOf(F.Body);
  bodyLen = <u32>max(lenOf(F.Body), 0);
  outcomePtr = strOf(F.OutcomeHeader);
  outcomeLen = <u32>max(lenOf(F.OutcomeHeader), 0);

  // Fixed headers: the three pseudo-headers with their values, then the configured name/value entries.
  const e = FIXED_ENTRIES;
  setEntry(e, 0, builtin(B_METHOD), builtinLen);
  setEntry(e, 1, builtin(B_GET), builtinLen);
  setEntry(e, 2, builtin(B_PATH), builtinLen);
  setEntry(e, 3, builtin(B_JUMP), builtinLen);
  setEntry(e, 4, builtin(B_AUTHORITY), builtinLen);
  // Istio-style outbound|PORT|SUBSET|HOST -> HOST; any other cluster name is used as is.
  let bars = 0;
  let last: u32 = 0;
  for (let i: u32 = 0; i < clusterLen; i++) if (load<u8>(clusterPtr + i) == 0x7c) { bars++; last = i + 1; }
  if (bars != 3 || last == clusterLen) last = 0;
  setEntry(e, 5, clusterPtr + last, clusterLen - last);
  // Configured values replace the defaults.
  if (lenOf(F.Method) >= 0) setEntry(e, 1, strOf(F.Method), lenOf(F.Method));
  if (lenOf(F.Path) >= 0) setEntry(e, 3, strOf(F.Path), lenOf(F.Path));
  if (lenOf(F.Authority) >= 0) setEntry(e, 5, strOf(F.Authority), lenOf(F.Authority));
  memory.copy(e + 6 * 8, HEADER_LIST, headerEntries * 8);
  const entries: u32 = 6 + headerEntries;
  fixedCount = entries >> 1;
  fixedLen = 4 + (fixedCount << 3);
  for (let i: u32 = 0; i < entries; i++) fixedLen += load<u32>(e + i * 8 + 4) + 1;
  fixedPairs = grow(fixedPairs, fixedLen);
  store<u32>(fixedPairs, fixedCount);
  let sizes = fixedPairs + 4;
  let data = sizes + (fixedCount << 3);
  for (let i: u32 = 0; i < entries; i++) {
    const len = load<u32>(e + i * 8 + 4);
    store<u32>(sizes, len);
    sizes += 4;
    memory.copy(data, load<u32>(e + i * 8), len);
    store<u8>(data + len, 0);
    data += len + 1;
  }

  // Deny list: credentials, framing (index B_CREDENTIALS_COUNT on), then the configured header names.
  denyCount = 0;
  for (let i = 0; i < B_DENY_COUNT; i++) {
    const p = builtin(B_DENY + i);
    setEntry(DENY, denyCount++, p, builtinLen);
  }
  for (let i: u32 = 0; i < headerEntries; i += 2) memory.copy(DENY + denyCount++ * 8, HEADER_LIST + i * 8, 8);

  // Allowlist: the configured one, or the default.
  exactCount = 0;
  prefixCount = 0;
  const count = propagateEntries >= 0 ? <u32>propagateEntries : B_ALLOW_COUNT;
  // Two passes so that exact names come first in ALLOW and prefixes after them.
  for (let pass = 0; pass < 2; pass++) {
    for (let i: u32 = 0; i < count; i++) {
      let p: usize;
      let len: u32;
      if (propagateEntries >= 0) { p = load<u32>(PROPAGATE_LIST + i * 8); len = load<u32>(PROPAGATE_LIST + i * 8 + 4); }
      else { p = builtin(B_ALLOW + i); len = builtinLen; }
      const isPrefix = load<u8>(p + len - 1) == 0x2a; // '*'
      if (pass == 0 && !isPrefix) {
        // Framing headers and the configured headers are never propagated, not even by exact name.
        if (inTable(DENY + B_CREDENTIALS_COUNT * 8, denyCount - B_CREDENTIALS_COUNT, p, len)) continue;
        setEntry(ALLOW, exactCount++, p, len);
      } else if (pass == 1 && isPrefix) {
        setEntry(ALLOW, exactCount + prefixCount++, p, len - 1);
      }
    }
  }
  propagates = exactCount + prefixCount > 0;
}

// heap.realloc needs a block to start from.
function grow(p: usize, size: u32): usize {
  return p == 0 ? heap.alloc(size) : heap.realloc(p, size);
}

// @ts-ignore: decorator
@inline function setEntry(table: usize, i: u32, p: usize, len: u32): void {
  store<u32>(table + i * 8, p);
  store<u32>(table + i * 8 + 4, len);
}

// n bytes at a equal n bytes at b. Header names are short: 8 bytes at a time beats memory.compare,
// which the size-optimized build turns into a byte loop behind a call.
function same(a: usize, b: usize, n: u32): bool {
  while (n >= 8) {
    if (load<u64>(a) != load<u64>(b)) return false;
    a += 8; b += 8; n -= 8;
  }
  while (n > 0) {
    if (load<u8>(a) != load<u8>(b)) return false;
    a++; b++; n--;
  }
  return true;
}

// [p, p+len) equals one of the n (ptr, len) entries of table.
function inTable(table: usize, n: u32, p: usize, len: u32): bool {
  for (let i: u32 = 0; i < n; i++, table += 8) {
    if (load<u32>(table, 4) == len && same(load<u32>(table), p, len)) return true;
  }
  return false;
}

/** Is request header [p, p+len) on the allowlist? Pseudo-headers never are. */
function isPropagated(p: usize, len: u32): bool {
  if (len == 0 || load<u8>(p) == 0x3a /* ':' */) return false;
  if (inTable(ALLOW, exactCount, p, len)) return true;
  for (let i: u32 = exactCount; i < exactCount + prefixCount; i++) {
    const l = load<u32>(ALLOW + i * 8 + 4);
    if (l <= len && same(load<u32>(ALLOW + i * 8), p, l)) return !inTable(DENY, denyCount, p, len);
  }
  return false;
}

// ---- Per-request scratch ----------------------------------------------------------------------
// The host copies what it reads during the host call, so one set of buffers serves every request.
// They only ever grow.

// Selected headers: 4 x u32 per entry (keyPtr, keyLen, valuePtr, valueLen), pointing into the pairs
// buffer they were read from (valid until that buffer is released).
let selection: usize = 0;
let selectionCapacity: u32 = 0;
export let selectedCount: u32 = 0;
let selectedBytes: u32 = 0; // sum of keyLen + valueLen + 2

let outBuffer: usize = 0;
let outCapacity: u32 = 0;
export let composedLength: u32 = 0;

/**
 * Selects entries of the pairs buffer [p, p+size): the allowlisted ones when `filter` is set, all
 * of them otherwise (a buffer that was filtered when it was captured). A malformed buffer yields
 * nothing; nothing is read outside [p, p+size).
 */
export function select(p: usize, size: u32, filter: bool): void {
  selectedCount = 0;
  selectedBytes = 0;
  if (size < 4) return;
  const count = load<u32>(p);
  if (count > (size - 4) >> 3) return;
  const end = <u64>p + size;
  let sizes = p + 4;
  let data = sizes + (count << 3);
  for (let i: u32 = 0; i < count; i++, sizes += 8) {
    const klen = load<u32>(sizes);
    const vlen = load<u32>(sizes, 4);
    if (<u64>data + klen + vlen + 2 > end) return;
    if (!filter || isPropagated(data, klen)) {
      if (selectedCount == selectionCapacity) {
        selectionCapacity = selectionCapacity == 0 ? 16 : selectionCapacity << 1;
        selection = grow(selection, selectionCapacity << 4);
      }
      const m = selection + (selectedCount << 4);
      store<u32>(m, data);
      store<u32>(m, klen, 4);
      store<u32>(m, data + klen + 1, 8);
      store<u32>(m, vlen, 12);
      selectedCount++;
      selectedBytes += klen + vlen + 2;
    }
    data += klen + vlen + 2;
  }
}

// Writes the selection's sizes at sizesAt and its key\0value\0 data at dataAt.
function writeSelection(sizesAt: usize, dataAt: usize): void {
  for (let i: u32 = 0; i < selectedCount; i++) {
    let m = selection + (i << 4);
    for (let j = 0; j < 2; j++, m += 8) {
      const len = load<u32>(m, 4);
      store<u32>(sizesAt, len);
      sizesAt += 4;
      memory.copy(dataAt, load<u32>(m), len);
      store<u8>(dataAt + len, 0);
      dataAt += len + 1;
    }
  }
}

/** The selection as a pairs buffer of its own (kept on a stream until its response trigger). */
export function selectionPairs(): ArrayBuffer {
  const buf = new ArrayBuffer(4 + (selectedCount << 3) + selectedBytes);
  const p = changetype<usize>(buf);
  store<u32>(p, selectedCount);
  writeSelection(p + 4, p + 4 + (selectedCount << 3));
  return buf;
}

/**
 * The callout's header pairs: the fixed headers followed by the selection. The pointer is valid
 * until the next call; the length is in composedLength.
 */
export function compose(): usize {
  if (selectedCount == 0) {
    composedLength = fixedLen;
    return fixedPairs;
  }
  const fixedSizesLen = fixedCount << 3;
  const fixedDataLen = fixedLen - 4 - fixedSizesLen;
  const total = fixedLen + (selectedCount << 3) + selectedBytes;
  if (total > outCapacity) {
    outCapacity = total << 1;
    outBuffer = grow(outBuffer, outCapacity);
  }
  const p = outBuffer;
  store<u32>(p, fixedCount + selectedCount);
  memory.copy(p + 4, fixedPairs + 4, fixedSizesLen);
  const dataAt = p + 4 + fixedSizesLen + (selectedCount << 3);
  memory.copy(dataAt, fixedPairs + 4 + fixedSizesLen, fixedDataLen);
  writeSelection(p + 4 + fixedSizesLen, dataAt + fixedDataLen);
  composedLength = total;
  return p;
}
