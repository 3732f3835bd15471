// One interface over the two engines a proxy-wasm module runs in for tests: the Node host's gateway
// (host/gateway.ts) and real Envoy (envoy/), so a scenario is written once and run on both. Each
// engine is a loopback proxy in front of `upstream`, with the module configured by `config` and its
// callout clusters pointing at loopback URLs; what a test observes is only what crosses the wire,
// the module's metrics (the host's, or Envoy's admin /stats without the wasmcustom. prefix) and its
// log lines, both normalised to Envoy's level names.
import { readFileSync } from 'node:fs';
import { type EnvoyInstance, startEnvoy, wasmMetrics } from '../../envoy/index.js';
import { type Gateway, LogLevel, ProxyWasmHost, startGateway } from '../../host/index.js';
import { componentPath } from './components.js';
import type { Teardown } from './loopback.js';

export type EngineName = 'node' | 'envoy';
export const ENGINES: readonly EngineName[] = ['node', 'envoy'];

export interface EngineSetup {
  wasmPath: string;
  /** The plugin configuration (a JSON value, or the raw string). */
  config: unknown;
  upstream: string;
  clusters?: Record<string, string>;
  rootId?: string;
  failOpen?: boolean;
}

export interface FilterLog {
  level: 'trace' | 'debug' | 'info' | 'warning' | 'error' | 'critical';
  message: string;
}

export interface Engine {
  name: EngineName;
  url: string;
  /** The module's metrics by the names it defined (counters and gauges). */
  metrics(): Promise<Record<string, number>>;
  /** The module's log lines (and, for the host, what it logs as Envoy would, e.g. traps). */
  logs(): FilterLog[];
  /** Resolves once no callout is in flight any more (and what they did has been counted). */
  settle(): Promise<void>;
  /** The underlying host (node) or Envoy process (envoy). */
  host?: ProxyWasmHost;
  envoy?: EnvoyInstance;
  stop(): Promise<void>;
}

// meshwasm's filter publishes its metrics on the root's tick, every 100 ms (filter/assembly/metrics.ts):
// reading them waits for more than two ticks, so what was counted has been published (the gateway
// runs the host's ticks on a real timer, as Envoy does).
const PUBLISHED_MS = 250;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const HOST_LEVELS: FilterLog['level'][] = ['trace', 'debug', 'info', 'warning', 'error', 'critical'];

/**
 * Envoy's wasm component lines: a module's proxy_log is `[level][wasm] wasm log <names>: message`,
 * what Envoy itself says about the VM (e.g. a trap) is `[level][wasm] message`.
 */
const ENVOY_WASM_LOG = /^\[(\w+)\]\[wasm\] (?:wasm log [^:]*: )?(.*)$/;

/** The envoy binary, or undefined (the caller decides whether that is a skip or a failure). */
export function envoyPath(): string | undefined {
  return componentPath('envoy');
}

export async function startEngine(t: Teardown, name: EngineName, setup: EngineSetup): Promise<Engine> {
  const pluginConfig = typeof setup.config === 'string' ? setup.config : JSON.stringify(setup.config);
  const engine =
    name === 'node' ? await startNode(setup, pluginConfig) : await startReal(setup, pluginConfig);
  t.teardown(engine.stop);
  return engine;
}

async function startNode(setup: EngineSetup, pluginConfig: string): Promise<Engine> {
  const host = await ProxyWasmHost.start({
    wasm: readFileSync(setup.wasmPath),
    rootId: setup.rootId ?? 'meshwasm',
    pluginConfig,
    clusters: setup.clusters ?? {},
    failOpen: setup.failOpen,
  });
  let gw: Gateway;
  try {
    gw = await startGateway({ host, upstream: setup.upstream });
  } catch (error) {
    host.shutdown();
    throw error;
  }
  let stopped: Promise<void> | undefined;
  return {
    name: 'node',
    url: gw.url,
    host,
    metrics: async () => {
      await sleep(PUBLISHED_MS);
      const out: Record<string, number> = {};
      for (const [k, v] of Object.entries(host.getMetrics())) if (typeof v === 'bigint') out[k] = Number(v);
      return out;
    },
    logs: () =>
      host.getLogs(LogLevel.trace).map((l) => ({ level: HOST_LEVELS[l.level]!, message: l.message })),
    settle: () => host.whenIdle(),
    stop: () =>
      (stopped ??= (async () => {
        await gw.close();
        host.shutdown();
      })()),
  };
}

async function startReal(setup: EngineSetup, pluginConfig: string): Promise<Engine> {
  const envoy = await startEnvoy({
    bootstrap: {
      upstream: setup.upstream,
      clusters: setup.clusters,
      wasm: { wasmPath: setup.wasmPath, pluginConfig, rootId: setup.rootId, failOpen: setup.failOpen },
    },
    envoyPath: envoyPath(),
    componentLogLevel: 'wasm:trace',
    // V8 compiles a big module (the Go SDK's is 2.7 MB) for each VM copy before /ready; on a loaded
    // CI machine that can take a while.
    readyTimeoutMs: 60_000,
  });
  const metrics = async () => {
    await sleep(PUBLISHED_MS);
    return Object.fromEntries(wasmMetrics(await envoy.stats()));
  };
  return {
    name: 'envoy',
    url: envoy.url,
    envoy,
    metrics,
    logs: () =>
      envoy.logs().flatMap((line) => {
        const m = ENVOY_WASM_LOG.exec(line);
        return m ? [{ level: m[1] as FilterLog['level'], message: m[2]! }] : [];
      }),
    settle: async () => {
      // Envoy has no "idle" signal: wait until the in-flight gauge is back to 0 and the metrics
      // stop moving across a publication (each read waits for one).
      let last = '';
      for (let i = 0; i < 60; i++) {
        const m = await metrics();
        const now = JSON.stringify(m);
        if ((m['meshwasm.callouts.in_flight'] ?? 0) === 0 && now === last) return;
        last = now;
      }
    },
    stop: envoy.stop,
  };
}
