// Shared data (a key/value store with compare-and-swap) and shared queues. In Envoy both are
// process-wide and keyed by vm_id, so every VM of the plugin sees them; a host is one VM here, so
// they live with the host and start empty.

import { WasmResult } from '../abi.js';
import type { HostFn } from '../guest-calls.js';
import type { GuestMemory } from '../memory.js';

/** The part of the VM these functions touch. */
export interface SharedDataVm {
  readonly mem: GuestMemory;
  copyOut(data: Uint8Array, ptrPtr: number, sizePtr: number): boolean;
}

/** `onQueueReady(token)` runs proxy_on_queue_ready on the root, on a later turn of the event loop. */
export function sharedDataFunctions(
  vm: SharedDataVm,
  onQueueReady: (token: number) => void,
): Record<string, HostFn> {
  const sharedData = new Map<string, { value: Uint8Array; cas: number }>();
  let nextCas = 1;
  const queues = new Map<string, number>();
  const queueData = new Map<number, Uint8Array[]>();
  let nextQueueToken = 1;
  return {
    proxy_get_shared_data(
      keyPtr: number,
      keySize: number,
      vPtrPtr: number,
      vSizePtr: number,
      casPtr: number,
    ): number {
      const key = vm.mem.string(keyPtr, keySize);
      if (key === null) return WasmResult.InvalidMemoryAccess;
      const e = sharedData.get(key);
      if (!e) return WasmResult.NotFound;
      if (!vm.copyOut(e.value, vPtrPtr, vSizePtr)) return WasmResult.InvalidMemoryAccess;
      return vm.mem.setU32(casPtr, e.cas) ? WasmResult.Ok : WasmResult.InvalidMemoryAccess;
    },
    proxy_set_shared_data(keyPtr: number, keySize: number, vPtr: number, vSize: number, cas: number): number {
      const key = vm.mem.string(keyPtr, keySize);
      const value = vm.mem.copy(vPtr, vSize);
      if (key === null || value === null) return WasmResult.InvalidMemoryAccess;
      const e = sharedData.get(key);
      if (e && cas !== 0 && cas >>> 0 !== e.cas) return WasmResult.CasMismatch;
      sharedData.set(key, { value, cas: nextCas++ });
      return WasmResult.Ok;
    },
    proxy_register_shared_queue(namePtr: number, nameSize: number, tokenPtr: number): number {
      const name = vm.mem.string(namePtr, nameSize);
      if (name === null) return WasmResult.InvalidMemoryAccess;
      let token = queues.get(name);
      if (token === undefined) {
        token = nextQueueToken++;
        queues.set(name, token);
        queueData.set(token, []);
      }
      return vm.mem.setU32(tokenPtr, token) ? WasmResult.Ok : WasmResult.InvalidMemoryAccess;
    },
    proxy_resolve_shared_queue(
      vmPtr: number,
      vmSize: number,
      namePtr: number,
      nameSize: number,
      tokenPtr: number,
    ): number {
      const name = vm.mem.string(namePtr, nameSize);
      if (name === null || vm.mem.view(vmPtr, vmSize) === null) return WasmResult.InvalidMemoryAccess;
      const token = queues.get(name);
      if (token === undefined) return WasmResult.NotFound;
      return vm.mem.setU32(tokenPtr, token) ? WasmResult.Ok : WasmResult.InvalidMemoryAccess;
    },
    proxy_enqueue_shared_queue(token: number, dataPtr: number, dataSize: number): number {
      const data = vm.mem.copy(dataPtr, dataSize);
      if (data === null) return WasmResult.InvalidMemoryAccess;
      const q = queueData.get(token >>> 0);
      if (!q) return WasmResult.NotFound;
      q.push(data);
      // Envoy posts onQueueReady to the owning root's dispatcher: it never runs inline.
      setImmediate(() => onQueueReady(token >>> 0));
      return WasmResult.Ok;
    },
    proxy_dequeue_shared_queue(token: number, ptrPtr: number, sizePtr: number): number {
      const q = queueData.get(token >>> 0);
      if (!q) return WasmResult.NotFound;
      const item = q.shift();
      if (item === undefined) return WasmResult.Empty;
      return vm.copyOut(item, ptrPtr, sizePtr) ? WasmResult.Ok : WasmResult.InvalidMemoryAccess;
    },
  };
}
