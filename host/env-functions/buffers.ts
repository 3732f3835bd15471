// Buffer host functions (proxy_get_buffer_bytes, _status, proxy_set_buffer_bytes). Which buffer a
// type reaches follows Envoy's Context::getBuffer: configuration buffers from the plugin, the body the
// filter manager is showing this callback, and the http_call response body inside
// on_http_call_response. Only a stream's current body can be changed, and only by Envoy's two
// shapes of edit: replace from the start, or append at the end.

import { BufferType, WasmResult } from '../abi.js';
import { concat } from '../bytes.js';
import type { HostFn } from '../guest-calls.js';
import type { GuestMemory } from '../memory.js';
import { type AnyContext, type BodyRef, EMPTY, type RootLikeContext, StreamContext } from '../stream.js';

/** The part of the VM these functions touch. */
export interface BufferVm {
  readonly mem: GuestMemory;
  readonly root: RootLikeContext;
  ctx(): AnyContext;
  rootOf(c: AnyContext): RootLikeContext;
  copyOut(data: Uint8Array, ptrPtr: number, sizePtr: number): boolean;
}

export interface Configuration {
  /** VmConfiguration: readable any time. */
  vm: Uint8Array;
  /** PluginConfiguration: readable only while the root's pluginConfigReadable is set. */
  plugin: Uint8Array;
}

/** Context::getBuffer. Returns null when Envoy returns nullptr (NotFound). */
function buffer(vm: BufferVm, config: Configuration, type: number): BodyRef | null {
  const c = vm.ctx();
  switch (type) {
    case BufferType.VmConfiguration:
      return { data: config.vm };
    case BufferType.PluginConfiguration:
      return c === vm.root && vm.root.pluginConfigReadable ? { data: config.plugin } : null;
    case BufferType.HttpCallResponseBody: {
      const r = vm.rootOf(c).httpCallResponse;
      return r && r.body ? { data: r.body } : null;
    }
    case BufferType.HttpRequestBody:
    case BufferType.HttpResponseBody: {
      if (!(c instanceof StreamContext)) return { data: EMPTY };
      const d = type === BufferType.HttpRequestBody ? c.req : c.resp;
      return d.body ?? { data: EMPTY };
    }
    default:
      return { data: EMPTY };
  }
}

export function bufferFunctions(vm: BufferVm, config: Configuration): Record<string, HostFn> {
  return {
    proxy_get_buffer_bytes(
      type: number,
      start: number,
      length: number,
      ptrPtr: number,
      sizePtr: number,
    ): number {
      if (type >>> 0 > BufferType.CallData) return WasmResult.BadArgument;
      const buf = buffer(vm, config, type >>> 0);
      if (!buf) return WasmResult.NotFound;
      let s = start >>> 0;
      let len = length >>> 0;
      if (s + len > 0xffffffff) return WasmResult.BadArgument;
      const size = buf.data.length;
      if (s > size) len = 0;
      else if (s + len > size) len = size - s;
      if (len === 0) {
        return vm.mem.setU32(ptrPtr, 0) && vm.mem.setU32(sizePtr, 0)
          ? WasmResult.Ok
          : WasmResult.InvalidMemoryAccess;
      }
      s = Math.min(s, size);
      return vm.copyOut(buf.data.subarray(s, s + len), ptrPtr, sizePtr)
        ? WasmResult.Ok
        : WasmResult.InvalidMemoryAccess;
    },
    proxy_get_buffer_status(type: number, lenPtr: number, flagsPtr: number): number {
      if (type >>> 0 > BufferType.CallData) return WasmResult.BadArgument;
      const buf = buffer(vm, config, type >>> 0);
      if (!buf) return WasmResult.NotFound;
      return vm.mem.setU32(lenPtr, buf.data.length) && vm.mem.setU32(flagsPtr, 0)
        ? WasmResult.Ok
        : WasmResult.InvalidMemoryAccess;
    },
    proxy_set_buffer_bytes(
      type: number,
      start: number,
      length: number,
      dataPtr: number,
      dataSize: number,
    ): number {
      if (type >>> 0 > BufferType.CallData) return WasmResult.BadArgument;
      const buf = buffer(vm, config, type >>> 0);
      if (!buf) return WasmResult.NotFound;
      const data = vm.mem.copy(dataPtr, dataSize);
      if (data === null) return WasmResult.InvalidMemoryAccess;
      const c = vm.ctx();
      const mutableBody =
        c instanceof StreamContext &&
        ((type === BufferType.HttpRequestBody && c.req.body === buf) ||
          (type === BufferType.HttpResponseBody && c.resp.body === buf));
      if (!mutableBody) return WasmResult.BadArgument;
      const s = start >>> 0;
      const len = length >>> 0;
      const size = buf.data.length;
      if (s === 0) {
        if (len === 0) buf.data = concat(data, buf.data);
        else if (len >= size) buf.data = data;
        else return WasmResult.BadArgument;
      } else if (s >= size) {
        buf.data = concat(buf.data, data);
      } else {
        return WasmResult.BadArgument;
      }
      return WasmResult.Ok;
    },
  };
}
