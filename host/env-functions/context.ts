// Host functions about the calling context and its plugin: logging, proxy_get_status, properties,
// the configuration buffers, the clock, the tick timer, proxy_set_effective_context and proxy_done.
// None of them touch a stream's headers or bodies (see headers.ts, buffers.ts, stream-control.ts).

import { LogLevel, WasmResult } from '../abi.js';
import { toBytes } from '../bytes.js';
import type { HostFn } from '../guest-calls.js';
import type { GuestMemory } from '../memory.js';
import { utf8 } from '../pairs.js';
import { type PropertyValue, resolveProperty } from '../properties.js';
import { type AnyContext, EMPTY, type RootLikeContext, StreamContext } from '../stream.js';
import type { Configuration } from './buffers.js';

/** The part of the VM these functions touch. */
export interface ContextVm {
  readonly mem: GuestMemory;
  readonly root: RootLikeContext;
  readonly afterActions: Array<() => void>;
  ctx(): AnyContext;
  rootOf(c: AnyContext): RootLikeContext;
  setEffective(id: number): boolean;
  copyOut(data: Uint8Array, ptrPtr: number, sizePtr: number): boolean;
  guestLog(level: LogLevel, message: string): void;
  callVoid(ctx: AnyContext, name: string, ...args: number[]): void;
}

/** The plugin's side: what it was configured with, and the host's timer and teardown state. */
export interface PluginState {
  envoyLogLevel: LogLevel;
  identity: { rootId: string; pluginName: string; vmId: string };
  /** Extra properties (HostOptions.properties), plus what proxy_set_property stored. */
  properties: Map<string, PropertyValue>;
  config: Configuration;
  now: () => bigint;
  setTickPeriod(ms: number): void;
  /** True (and cleared) if the root's on_done returned false and is waiting for proxy_done. */
  takeRootDone(): boolean;
}

export function contextFunctions(vm: ContextVm, plugin: PluginState): Record<string, HostFn> {
  return {
    proxy_log(level: number, ptr: number, size: number): number {
      if (level >>> 0 > LogLevel.critical) return WasmResult.BadArgument;
      const message = vm.mem.string(ptr, size);
      if (message === null) return WasmResult.InvalidMemoryAccess;
      vm.guestLog(level as LogLevel, message);
      return WasmResult.Ok;
    },
    proxy_get_log_level(ptr: number): number {
      return vm.mem.setU32(ptr, plugin.envoyLogLevel) ? WasmResult.Ok : WasmResult.InvalidMemoryAccess;
    },
    proxy_get_status(codePtr: number, msgPtrPtr: number, msgSizePtr: number): number {
      const r = vm.rootOf(vm.ctx());
      if (!vm.mem.setU32(codePtr, r.statusCode)) return WasmResult.InvalidMemoryAccess;
      return vm.copyOut(r.statusMessage.length === 0 ? EMPTY : utf8(r.statusMessage), msgPtrPtr, msgSizePtr)
        ? WasmResult.Ok
        : WasmResult.InvalidMemoryAccess;
    },
    proxy_get_property(pathPtr: number, pathSize: number, valuePtrPtr: number, valueSizePtr: number): number {
      const path = vm.mem.string(pathPtr, pathSize);
      if (path === null) return WasmResult.InvalidMemoryAccess;
      const c = vm.ctx();
      const v = resolveProperty(
        path,
        plugin.identity,
        plugin.properties,
        c instanceof StreamContext ? c : undefined,
      );
      if (v === undefined) return WasmResult.NotFound;
      return vm.copyOut(toBytes(v), valuePtrPtr, valueSizePtr)
        ? WasmResult.Ok
        : WasmResult.InvalidMemoryAccess;
    },
    proxy_set_property(keyPtr: number, keySize: number, valuePtr: number, valueSize: number): number {
      const key = vm.mem.string(keyPtr, keySize);
      const value = vm.mem.copy(valuePtr, valueSize);
      if (key === null || value === null) return WasmResult.InvalidMemoryAccess;
      // Envoy stores it as filter state "wasm.<path>" on the stream; there is no stream info on the root.
      if (!(vm.ctx() instanceof StreamContext)) return WasmResult.NotFound;
      plugin.properties.set(key, value);
      return WasmResult.Ok;
    },
    proxy_get_configuration(ptrPtr: number, sizePtr: number): number {
      const data = vm.root.pluginConfigReadable ? plugin.config.plugin : plugin.config.vm;
      return vm.copyOut(data, ptrPtr, sizePtr) ? WasmResult.Ok : WasmResult.InvalidMemoryAccess;
    },
    proxy_set_effective_context(id: number): number {
      return vm.setEffective(id >>> 0) ? WasmResult.Ok : WasmResult.BadArgument;
    },
    proxy_done(): number {
      const c = vm.ctx();
      if (c !== vm.root || !plugin.takeRootDone()) return WasmResult.NotFound;
      vm.afterActions.push(() => vm.callVoid(vm.root, 'proxy_on_delete', 1));
      return WasmResult.Ok;
    },
    proxy_call_foreign_function(
      namePtr: number,
      nameSize: number,
      argsPtr: number,
      argsSize: number,
    ): number {
      if (vm.mem.view(namePtr, nameSize) === null || vm.mem.view(argsPtr, argsSize) === null) {
        return WasmResult.InvalidMemoryAccess;
      }
      return WasmResult.NotFound;
    },
    proxy_set_tick_period_milliseconds(ms: number): number {
      plugin.setTickPeriod(ms >>> 0);
      return WasmResult.Ok;
    },
    proxy_get_current_time_nanoseconds(ptr: number): number {
      return vm.mem.setU64(ptr, plugin.now()) ? WasmResult.Ok : WasmResult.InvalidMemoryAccess;
    },
  };
}
