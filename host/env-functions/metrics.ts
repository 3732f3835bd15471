// Metrics the guest defines and updates (proxy_define_metric, proxy_increment/record/get_metric),
// with Envoy's id scheme: the low two bits of an id are the metric type, so a call on the wrong
// kind of metric is rejected before any lookup. Names are shared per type: defining the same name
// twice gives a new id for the same metric, like Envoy's stat scope.

import { MetricType, WasmResult } from '../abi.js';
import type { HostFn } from '../guest-calls.js';
import type { GuestMemory } from '../memory.js';

interface Metric {
  type: number;
  name: string;
  value: bigint;
  samples: bigint[];
}

export class MetricStore {
  private readonly byId = new Map<number, Metric>();
  private readonly byKey = new Map<string, Metric>();
  /** Last id handed out per type (ids step by 4 so the type survives in the low bits). */
  private readonly lastId = [0, 1, 2];

  /** A new id for the metric of this type and name, creating the metric on first use. */
  define(type: number, name: string): number {
    const key = `${type}\0${name}`;
    let m = this.byKey.get(key);
    if (!m) {
      m = { type, name, value: 0n, samples: [] };
      this.byKey.set(key, m);
    }
    this.lastId[type]! += 4;
    const id = this.lastId[type]!;
    this.byId.set(id, m);
    return id;
  }

  get(id: number): Metric | undefined {
    return this.byId.get(id);
  }

  private find(type: number, name: string): Metric | undefined {
    return this.byKey.get(`${type}\0${name}`);
  }

  counter(name: string): bigint | undefined {
    return this.find(MetricType.Counter, name)?.value;
  }

  gauge(name: string): bigint | undefined {
    return this.find(MetricType.Gauge, name)?.value;
  }

  histogram(name: string): bigint[] | undefined {
    return this.find(MetricType.Histogram, name)?.samples.slice();
  }

  /** Every metric by name: counters and gauges as their value, histograms as their samples. */
  all(): Record<string, bigint | bigint[]> {
    const out: Record<string, bigint | bigint[]> = {};
    for (const m of this.byKey.values())
      out[m.name] = m.type === MetricType.Histogram ? m.samples.slice() : m.value;
    return out;
  }
}

export function metricFunctions(
  vm: { readonly mem: GuestMemory },
  store: MetricStore,
): Record<string, HostFn> {
  return {
    proxy_define_metric(type: number, namePtr: number, nameSize: number, idPtr: number): number {
      const name = vm.mem.string(namePtr, nameSize);
      if (name === null) return WasmResult.InvalidMemoryAccess;
      if (type >>> 0 > MetricType.Histogram) return WasmResult.BadArgument;
      const id = store.define(type, name);
      return vm.mem.setU32(idPtr, id) ? WasmResult.Ok : WasmResult.InvalidMemoryAccess;
    },
    proxy_increment_metric(id: number, offset: bigint): number {
      const type = (id >>> 0) & 3;
      const m = store.get(id >>> 0);
      if (type === MetricType.Counter) {
        if (!m) return WasmResult.NotFound;
        if (offset <= 0n) return WasmResult.BadArgument;
        m.value += offset;
        return WasmResult.Ok;
      }
      if (type === MetricType.Gauge) {
        if (!m) return WasmResult.NotFound;
        m.value += offset;
        return WasmResult.Ok;
      }
      return WasmResult.BadArgument;
    },
    proxy_record_metric(id: number, value: bigint): number {
      const m = store.get(id >>> 0);
      if (!m) return WasmResult.NotFound;
      const v = BigInt.asUintN(64, value);
      if (m.type === MetricType.Counter) m.value += v;
      else if (m.type === MetricType.Gauge) m.value = v;
      else m.samples.push(v);
      return WasmResult.Ok;
    },
    proxy_get_metric(id: number, resultPtr: number): number {
      const type = (id >>> 0) & 3;
      if (type === MetricType.Histogram || type === 3) return WasmResult.BadArgument;
      const m = store.get(id >>> 0);
      if (!m) return WasmResult.NotFound;
      return vm.mem.setU64(resultPtr, m.value) ? WasmResult.Ok : WasmResult.InvalidMemoryAccess;
    },
  };
}
