// Header-map host functions (proxy_*_header_map_*). Which map a call reaches, and whether it may
// change it, follows Envoy's Context::getMap/getConstMap: a stream's maps are reachable only while
// Envoy holds a pointer to them (during that callback, or until the filter continues), the
// http_call response maps only inside on_http_call_response, and the access-log phase reads what
// the stream ended with.

import { type AbiVersion, HeaderMapType, WasmResult } from '../abi.js';
import type { HostFn } from '../guest-calls.js';
import { HeaderMap } from '../header-map.js';
import type { GuestMemory } from '../memory.js';
import { decodePairs, encodePairs, utf8 } from '../pairs.js';
import { type AnyContext, type Direction, EMPTY, type RootLikeContext, StreamContext } from '../stream.js';

/** The part of the VM these functions touch. */
export interface HeaderVm {
  readonly mem: GuestMemory;
  ctx(): AnyContext;
  rootOf(c: AnyContext): RootLikeContext;
  copyOut(data: Uint8Array, ptrPtr: number, sizePtr: number): boolean;
}

/** Context::getMap: the mutable map, or null when Envoy holds no pointer to it right now. */
function mutableMap(vm: HeaderVm, type: number): HeaderMap | null {
  const c = vm.ctx();
  if (!(c instanceof StreamContext)) return null;
  switch (type) {
    case HeaderMapType.RequestHeaders:
      return c.req.headersRef ? c.req.headers : null;
    case HeaderMapType.RequestTrailers:
      return trailersForWrite(c, c.req);
    case HeaderMapType.ResponseHeaders:
      return c.resp.headersRef ? c.resp.headers : null;
    case HeaderMapType.ResponseTrailers:
      return trailersForWrite(c, c.resp);
    default:
      return null;
  }
}

/** Envoy adds trailers on demand in the last body callback (addDecodedTrailers). */
function trailersForWrite(c: StreamContext, d: Direction): HeaderMap | null {
  if (d.trailersRef) return d.trailers;
  if (d.body !== null && d.endSeen && d.trailers === null && !c.accessLogPhase) {
    d.trailers = new HeaderMap();
    d.trailersRef = true;
    return d.trailers;
  }
  return null;
}

/** Context::getConstMap. */
function constMap(vm: HeaderVm, type: number): HeaderMap | null {
  const c = vm.ctx();
  switch (type) {
    case HeaderMapType.HttpCallResponseHeaders:
      return vm.rootOf(c).httpCallResponse?.headers ?? null;
    case HeaderMapType.HttpCallResponseTrailers:
      return vm.rootOf(c).httpCallResponse?.trailers ?? null;
    case HeaderMapType.GrpcReceiveInitialMetadata:
    case HeaderMapType.GrpcReceiveTrailingMetadata:
      return null;
    default:
      break;
  }
  if (!(c instanceof StreamContext)) return null;
  if (c.accessLogPhase) {
    switch (type) {
      case HeaderMapType.RequestHeaders:
        return c.req.headers;
      case HeaderMapType.RequestTrailers:
        return null;
      case HeaderMapType.ResponseHeaders:
        return c.resp.headers;
      case HeaderMapType.ResponseTrailers:
        return c.resp.trailers;
      default:
        return null;
    }
  }
  switch (type) {
    case HeaderMapType.RequestHeaders:
      return c.req.headersRef ? c.req.headers : null;
    case HeaderMapType.RequestTrailers:
      return c.req.trailersRef ? c.req.trailers : null;
    case HeaderMapType.ResponseHeaders:
      return c.resp.headersRef ? c.resp.headers : null;
    case HeaderMapType.ResponseTrailers:
      return c.resp.trailersRef ? c.resp.trailers : null;
    default:
      return null;
  }
}

function inAccessLogPhase(vm: HeaderVm): boolean {
  const c = vm.ctx();
  return c instanceof StreamContext && c.accessLogPhase;
}

/** proxy_add/replace_header_map_value: Envoy addCopy (appends to an inline header) or setCopy. */
function editValue(
  vm: HeaderVm,
  type: number,
  kPtr: number,
  kSize: number,
  vPtr: number,
  vSize: number,
  edit: 'add' | 'replace',
): number {
  if (type >>> 0 > HeaderMapType.HttpCallResponseTrailers) return WasmResult.BadArgument;
  const key = vm.mem.string(kPtr, kSize);
  const value = vm.mem.string(vPtr, vSize);
  if (key === null || value === null) return WasmResult.InvalidMemoryAccess;
  const map = mutableMap(vm, type);
  if (!map) return WasmResult.BadArgument;
  map[edit](key, value);
  return WasmResult.Ok;
}

export function headerMapFunctions(vm: HeaderVm, abi: AbiVersion): Record<string, HostFn> {
  return {
    proxy_get_header_map_value(
      type: number,
      keyPtr: number,
      keySize: number,
      vPtrPtr: number,
      vSizePtr: number,
    ): number {
      if (type >>> 0 > HeaderMapType.HttpCallResponseTrailers) return WasmResult.BadArgument;
      const key = vm.mem.string(keyPtr, keySize);
      if (key === null) return WasmResult.InvalidMemoryAccess;
      const map = constMap(vm, type);
      if (!map) {
        if (inAccessLogPhase(vm)) {
          if (abi === '0.1.0')
            return vm.copyOut(EMPTY, vPtrPtr, vSizePtr) ? WasmResult.Ok : WasmResult.InvalidMemoryAccess;
          return WasmResult.NotFound;
        }
        return WasmResult.BadArgument;
      }
      const v = map.get(key);
      if (v === undefined) {
        if (abi === '0.1.0')
          return vm.copyOut(EMPTY, vPtrPtr, vSizePtr) ? WasmResult.Ok : WasmResult.InvalidMemoryAccess;
        return WasmResult.NotFound;
      }
      return vm.copyOut(utf8(v), vPtrPtr, vSizePtr) ? WasmResult.Ok : WasmResult.InvalidMemoryAccess;
    },
    proxy_get_header_map_pairs(type: number, ptrPtr: number, sizePtr: number): number {
      if (type >>> 0 > HeaderMapType.HttpCallResponseTrailers) return WasmResult.BadArgument;
      const map = constMap(vm, type);
      const data = map && map.size > 0 ? encodePairs(map.entries()) : EMPTY;
      return vm.copyOut(data, ptrPtr, sizePtr) ? WasmResult.Ok : WasmResult.InvalidMemoryAccess;
    },
    proxy_set_header_map_pairs(type: number, ptr: number, size: number): number {
      if (type >>> 0 > HeaderMapType.HttpCallResponseTrailers) return WasmResult.BadArgument;
      const data = vm.mem.view(ptr, size);
      if (data === null) return WasmResult.InvalidMemoryAccess;
      const map = mutableMap(vm, type);
      if (!map) return WasmResult.BadArgument;
      map.setAll(decodePairs(data));
      return WasmResult.Ok;
    },
    proxy_get_header_map_size(type: number, resultPtr: number): number {
      if (type >>> 0 > HeaderMapType.HttpCallResponseTrailers) return WasmResult.BadArgument;
      const map = mutableMap(vm, type);
      if (!map) return WasmResult.BadArgument;
      return vm.mem.setU32(resultPtr, map.byteSize()) ? WasmResult.Ok : WasmResult.InvalidMemoryAccess;
    },
    proxy_add_header_map_value(
      type: number,
      kPtr: number,
      kSize: number,
      vPtr: number,
      vSize: number,
    ): number {
      return editValue(vm, type, kPtr, kSize, vPtr, vSize, 'add');
    },
    proxy_replace_header_map_value(
      type: number,
      kPtr: number,
      kSize: number,
      vPtr: number,
      vSize: number,
    ): number {
      return editValue(vm, type, kPtr, kSize, vPtr, vSize, 'replace');
    },
    proxy_remove_header_map_value(type: number, kPtr: number, kSize: number): number {
      if (type >>> 0 > HeaderMapType.HttpCallResponseTrailers) return WasmResult.BadArgument;
      const key = vm.mem.string(kPtr, kSize);
      if (key === null) return WasmResult.InvalidMemoryAccess;
      const map = mutableMap(vm, type);
      if (!map) return WasmResult.BadArgument;
      map.remove(key);
      return WasmResult.Ok;
    },
  };
}
