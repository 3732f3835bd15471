// Host functions that steer the stream the filter is on: continue a stopped direction, reset the
// stream, or answer it locally. Envoy never acts on these inside the guest call: the filter manager
// runs them after the callback returns (DeferAfterCallActions), so they are queued here.

import { StreamType, WasmResult } from '../abi.js';
import type { HostFn } from '../guest-calls.js';
import { lowerKey } from '../header-map.js';
import type { GuestMemory } from '../memory.js';
import { decodePairs } from '../pairs.js';
import { type AnyContext, type Direction, type LocalReplyRecord, StreamContext } from '../stream.js';

/** The part of the VM these functions touch. */
export interface StreamControlVm {
  readonly mem: GuestMemory;
  readonly afterActions: Array<() => void>;
  stopNextIteration: boolean;
  ctx(): AnyContext;
}

/** What the filter manager does once the guest call returns. */
export interface StreamControl {
  resume(s: StreamContext, d: Direction): void;
  resetStream(s: StreamContext, details: string): void;
  sendLocalReply(s: StreamContext, reply: LocalReplyRecord): void;
}

function continueStream(vm: StreamControlVm, streams: StreamControl, type: number): number {
  const c = vm.ctx();
  if (type === StreamType.Upstream) return WasmResult.Unimplemented;
  if (type === StreamType.Downstream) return WasmResult.Ok;
  if (c instanceof StreamContext) {
    const dir = type === StreamType.Request ? c.req : c.resp;
    vm.afterActions.push(() => streams.resume(c, dir));
    // Envoy nulls the *request* pointers for both Request and Response (Context::continueStream).
    c.req.headersRef = false;
    c.req.body = null;
    c.req.trailersRef = false;
  }
  return WasmResult.Ok;
}

export function streamControlFunctions(vm: StreamControlVm, streams: StreamControl): Record<string, HostFn> {
  return {
    proxy_continue_request(): number {
      return continueStream(vm, streams, StreamType.Request);
    },
    proxy_continue_response(): number {
      return continueStream(vm, streams, StreamType.Response);
    },
    proxy_continue_stream(type: number): number {
      if (type >>> 0 > StreamType.Upstream) return WasmResult.BadArgument;
      return continueStream(vm, streams, type);
    },
    proxy_close_stream(type: number): number {
      if (type >>> 0 > StreamType.Upstream) return WasmResult.BadArgument;
      const c = vm.ctx();
      if (c instanceof StreamContext && (type === StreamType.Request || type === StreamType.Response)) {
        if (c.responseCodeDetails === undefined) c.responseCodeDetails = 'wasm_close_stream';
        vm.afterActions.push(() => streams.resetStream(c, 'wasm_close_stream'));
      }
      return WasmResult.Ok;
    },
    proxy_send_local_response(
      code: number,
      detailsPtr: number,
      detailsSize: number,
      bodyPtr: number,
      bodySize: number,
      headersPtr: number,
      headersSize: number,
      grpcStatus: number,
    ): number {
      const details = vm.mem.string(detailsPtr, detailsSize);
      const body = vm.mem.copy(bodyPtr, bodySize);
      const pairs = vm.mem.view(headersPtr, headersSize);
      if (details === null || body === null || pairs === null) return WasmResult.InvalidMemoryAccess;
      const extra = decodePairs(pairs).map(([k, v]) => [lowerKey(k), v] as [string, string]);
      const c = vm.ctx();
      if (c instanceof StreamContext) {
        const reply: LocalReplyRecord = {
          // Envoy casts the code to Http::Code (16 bits): 99999 goes out as 34463.
          statusCode: (code >>> 0) & 0xffff,
          details: details.replace(/\s/g, '_'),
          body,
          headers: extra,
          grpcStatus: grpcStatus | 0,
        };
        vm.afterActions.push(() => streams.sendLocalReply(c, reply));
      }
      vm.stopNextIteration = true;
      return WasmResult.Ok;
    },
    proxy_clear_route_cache(): number {
      return WasmResult.Ok;
    },
  };
}
