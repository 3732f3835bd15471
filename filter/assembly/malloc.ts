// The allocator the host writes through (proxy_get_header_map_pairs, proxy_get_buffer_bytes, ...):
// plain blocks of the runtime's TLSF heap, which the filter frees as soon as it has read them.
// The SDK's malloc allocates a GC-managed ArrayBuffer and pins it, so every buffer the host hands
// over (one or two per request) also costs the collector a pin, an unpin and a later sweep. The
// filter never keeps a host buffer as a managed object, so it needs none of that.

/** Exported as `malloc`: Envoy calls it for every buffer it copies into the VM. */
export function malloc(size: usize): usize {
  return heap.alloc(size);
}

/** Returns a block the host allocated through malloc. */
export function free(ptr: usize): void {
  heap.free(ptr);
}
