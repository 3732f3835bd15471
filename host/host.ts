// ProxyWasmHost: runs a proxy-wasm module on Node's WebAssembly with Envoy's semantics
// (proxy-wasm-cpp-host + Envoy extensions/common/wasm). See host/README.md for the API and
// reference/proxy-wasm-host.md §2 for the rules each piece follows.
//
// This class is the public face and the wiring: it loads and starts the module, builds the import
// object from the host-function modules (env-functions/, callouts.ts, wasi.ts), owns the plugin's
// configuration, properties and tick timer, and delegates streams to filter-manager.ts. The state
// every piece shares (current context, deferred actions, failure) lives in guest-calls.ts.

import {
  type AbiVersion,
  LogLevel,
  START_ALLOWED_HOSTCALLS,
  WASI_FUNCTIONS,
  WASI_MODULES,
  WasmResult,
  envoyImportTable,
} from './abi.js';
import { type Bytes, toBytes } from './bytes.js';
import { GuestMemory } from './memory.js';
import { type GuestFn, GuestCalls, type GuestWatchdog, type HostFn } from './guest-calls.js';
import { type LogEntry, LogBook } from './logs.js';
import { wasiFunction } from './wasi.js';
import { type Action, FilterManager } from './filter-manager.js';
import { type CalloutReply, type HttpCallout, HttpCallouts } from './callouts.js';
import { bufferFunctions } from './env-functions/buffers.js';
import { contextFunctions } from './env-functions/context.js';
import { streamControlFunctions } from './env-functions/stream-control.js';
import { headerMapFunctions } from './env-functions/headers.js';
import { MetricStore, metricFunctions } from './env-functions/metrics.js';
import { sharedDataFunctions } from './env-functions/shared-data.js';
import type { Headers } from './pairs.js';
import type { PropertyValue } from './properties.js';
import {
  Direction,
  EMPTY,
  type LocalReplyRecord,
  StreamContext,
  type StreamInfoOptions,
  type StreamSink,
} from './stream.js';
import { HostLoadError, checkLinkable, parseModuleLikeEnvoy } from './link-check.js';
import { type ModuleInfo } from './wasm-binary.js';

export { HostLoadError };

export type { Headers } from './pairs.js';
export type { Bytes } from './bytes.js';
export type { Action } from './filter-manager.js';
export type { CalloutReply, HttpCallout } from './callouts.js';

export interface HostOptions {
  wasm: Uint8Array | WebAssembly.Module;
  /** root_id (property plugin_root_id). */
  rootId?: string;
  pluginName?: string;
  vmId?: string;
  pluginConfig?: Bytes;
  vmConfig?: Bytes;
  /** Extra properties; key = path segments joined with '\0'. */
  properties?: Record<string, Bytes>;
  /** Envoy cluster name -> 'http://127.0.0.1:PORT' (real HTTP), 'manual' (the test resolves callouts),
   *  or 'unavailable' (AsyncClient::send fails inline: InternalFailure, no callback). */
  clusters?: Record<string, string>;
  failOpen?: boolean;
  /** Record getVmCallTrace() and keep a long history (default true). */
  trace?: boolean;
  /** Record every host function the guest calls (getHostCallTrace()); default false. */
  traceHostCalls?: boolean;
  /** Live log tap (captured logs are kept either way). */
  logSink?: (entry: LogEntry) => void;
  /** Wall clock in ns for proxy_get_current_time_nanoseconds and WASI realtime. */
  now?: () => bigint;
  /** Envoy's logger level reported by proxy_get_log_level (ABI 0.2.1); default info. */
  envoyLogLevel?: LogLevel;
  /** WASI environment (vm_config.environment_variables). */
  environment?: Record<string, string>;
  /** Defaults for stream info (source/destination address, protocol). */
  streamInfo?: StreamInfoOptions;
  /** Stop guest code that does not return (after timeoutMs, or on SIGINT); see GuestWatchdog. */
  guestWatchdog?: GuestWatchdog;
}

export type { LogEntry } from './logs.js';

export interface HostCall {
  /** 'proxy_log', 'proxy_http_call', ... ; WASI calls as 'wasi_unstable.proc_exit'. */
  fn: string;
  args: number[];
  /** contextOrEffectiveContext() when the call was made. */
  contextId: number;
}

export type LocalResponse = LocalReplyRecord;

export interface StreamState {
  phase: StreamContext['phase'];
  /** Either direction is stopped at the filter. */
  paused: boolean;
  requestStopped: boolean;
  responseStopped: boolean;
  /** Request headers went past the filter (Continue or resumed). */
  continuedRequest: boolean;
  /** Response headers went past the filter. */
  continuedResponse: boolean;
  localReply?: LocalResponse;
  /** Details when the stream was reset (proxy_close_stream, or a local reply after response headers). */
  reset?: string;
  ended: boolean;
  contextCreated: boolean;
  /** The filter was skipped (failed VM with failOpen). */
  bypassed: boolean;
}

const compiled = new WeakMap<object, { module: WebAssembly.Module; info: ModuleInfo }>();

/** Compile once and remember the parsed sections, so later hosts on the same bytes skip both steps. */
export async function compileModule(bytes: Uint8Array): Promise<WebAssembly.Module> {
  return (await loadModule(bytes)).module;
}

async function loadModule(
  wasm: Uint8Array | WebAssembly.Module,
): Promise<{ module: WebAssembly.Module; info: ModuleInfo }> {
  const hit = compiled.get(wasm);
  if (hit) return hit;
  if (wasm instanceof WebAssembly.Module) {
    throw new HostLoadError(
      'ProxyWasmHost needs the module bytes to check import types like Envoy; pass a Uint8Array or a module from compileModule()',
    );
  }
  const info = parseModuleLikeEnvoy(wasm);
  let module: WebAssembly.Module;
  try {
    module = await WebAssembly.compile(wasm as Uint8Array<ArrayBuffer>);
  } catch (e) {
    throw new HostLoadError(`Failed to load Wasm bytecode: ${(e as Error).message}`);
  }
  const entry = { module, info };
  compiled.set(wasm, entry);
  compiled.set(module, entry);
  return entry;
}

export class ProxyWasmHost {
  readonly abiVersion: AbiVersion;
  readonly rootContextId = 1;

  private readonly instance: WebAssembly.Instance;
  private readonly logs: LogBook;
  private readonly vm: GuestCalls;
  private readonly streams: FilterManager;
  private readonly callouts: HttpCallouts;
  private readonly metrics = new MetricStore();
  private hostCalls: HostCall[] = [];
  private tickPeriodMs = 0;
  private tickTimer: NodeJS.Timeout | undefined;
  private realTicks = false;
  private rootDonePending = false;

  private readonly pluginConfig: Uint8Array;
  private readonly vmConfig: Uint8Array;
  private readonly properties = new Map<string, PropertyValue>();
  private readonly identity: { rootId: string; pluginName: string; vmId: string };
  private readonly now: () => bigint;

  private constructor(
    private readonly opts: HostOptions,
    module: WebAssembly.Module,
    info: ModuleInfo,
    abi: AbiVersion,
  ) {
    this.abiVersion = abi;
    this.logs = new LogBook(opts.logSink);
    this.vm = new GuestCalls(this.logs, opts.trace ?? true, () => this.stopTicks(), opts.guestWatchdog);
    this.pluginConfig = toBytes(opts.pluginConfig);
    this.vmConfig = toBytes(opts.vmConfig);
    for (const [k, v] of Object.entries(opts.properties ?? {})) this.properties.set(k, v);
    this.identity = { rootId: opts.rootId ?? '', pluginName: opts.pluginName ?? '', vmId: opts.vmId ?? '' };
    this.now = opts.now ?? wallClockNanoseconds;
    this.streams = new FilterManager(this.vm, {
      abi,
      failOpen: opts.failOpen ?? false,
      now: this.now,
      streamClock: opts.now ?? (() => Date.now()),
      streamDefaults: {
        source: opts.streamInfo?.source ?? '127.0.0.1:0',
        destination: opts.streamInfo?.destination ?? '127.0.0.1:0',
        protocol: opts.streamInfo?.protocol ?? 'HTTP/1.1',
      },
    });
    this.callouts = new HttpCallouts(this.vm, opts.clusters ?? {});

    // Instantiation runs the start section; no Envoy context is current then, so only the
    // start-time host calls are allowed.
    this.vm.restricted = START_ALLOWED_HOSTCALLS;
    this.vm.current = this.vm.vmContext;
    let instance: WebAssembly.Instance;
    try {
      instance = new WebAssembly.Instance(module, this.buildImports(abi, info));
    } catch (e) {
      throw new HostLoadError(`Failed to instantiate Wasm module: ${(e as Error).message}`);
    } finally {
      this.vm.restricted = null;
      this.vm.current = null;
    }
    this.instance = instance;
    const memory = instance.exports.memory;
    if (!(memory instanceof WebAssembly.Memory))
      throw new HostLoadError('Wasm module is missing memory export.');
    const fns: Record<string, GuestFn | undefined> = {};
    for (const [name, value] of Object.entries(instance.exports)) {
      if (typeof value === 'function') fns[name] = value as GuestFn;
    }
    this.vm.attach(new GuestMemory(memory), fns);
  }

  // ---------------------------------------------------------------------------------------------
  // Loading

  static async create(opts: HostOptions): Promise<ProxyWasmHost> {
    const { module, info } = await loadModule(opts.wasm);
    const abi = checkLinkable(info);
    const host = new ProxyWasmHost(opts, module, info, abi);
    host.startVmCode();
    // ContextBase::onStart: temp_plugin_ is set while the root context is created.
    host.vm.root.pluginConfigReadable = true;
    host.vm.callVoid(host.vm.root, 'proxy_on_context_create', 1, 0);
    host.vm.root.pluginConfigReadable = false;
    return host;
  }

  static async start(opts: HostOptions): Promise<ProxyWasmHost> {
    const host = await ProxyWasmHost.create(opts);
    if (!host.startVm()) {
      host.shutdown();
      throw new HostLoadError(`Failed to start base Wasm VM${host.lastErrorSuffix()}`);
    }
    if (!host.startPlugin()) {
      host.shutdown();
      throw new HostLoadError(`Failed to configure base Wasm plugin${host.lastErrorSuffix()}`);
    }
    return host;
  }

  private lastErrorSuffix(): string {
    const last = this.logs.lastError();
    return last ? ` (${last.message})` : '';
  }

  /** WASI reactor/command entry points, with Envoy's restricted host-call list. */
  private startVmCode(): void {
    const run = (name: string, ...args: number[]) => {
      const f = this.vm.fn[name];
      if (!f) return;
      this.vm.restricted = START_ALLOWED_HOSTCALLS;
      try {
        this.vm.guestCall(this.vm.vmContext, name, f, args);
      } finally {
        this.vm.restricted = null;
      }
    };
    if (this.vm.fn._initialize) {
      run('_initialize');
      if (this.vm.fn.main) run('main', 0, 0);
      else if (this.vm.fn.__main_void) run('__main_void');
    } else if (this.vm.fn._start) {
      run('_start');
    }
  }

  /** proxy_on_vm_start(root, vm_configuration size) != 0. */
  startVm(): boolean {
    if (this.vm.failed) return false;
    const r = this.vm.callWord(this.vm.root, 'proxy_on_vm_start', [1, this.vmConfig.length], 1);
    return !this.vm.failed && r !== 0;
  }

  /** proxy_on_configure(root, plugin_configuration size) != 0; PluginConfiguration readable only here. */
  startPlugin(): boolean {
    if (this.vm.failed) return false;
    this.vm.root.pluginConfigReadable = true;
    let r: number;
    try {
      r = this.vm.callWord(this.vm.root, 'proxy_on_configure', [1, this.pluginConfig.length], 1);
    } finally {
      this.vm.root.pluginConfigReadable = false;
    }
    return !this.vm.failed && r !== 0;
  }

  private buildImports(abi: AbiVersion, info: ModuleInfo): WebAssembly.Imports {
    const env: Record<string, unknown> = {};
    const implemented: Record<string, HostFn> = {
      ...headerMapFunctions(this.vm, abi),
      ...bufferFunctions(this.vm, { vm: this.vmConfig, plugin: this.pluginConfig }),
      ...metricFunctions(this.vm, this.metrics),
      ...contextFunctions(this.vm, {
        envoyLogLevel: this.opts.envoyLogLevel ?? LogLevel.info,
        identity: this.identity,
        properties: this.properties,
        config: { vm: this.vmConfig, plugin: this.pluginConfig },
        now: this.now,
        setTickPeriod: (ms) => {
          this.tickPeriodMs = ms;
          if (this.realTicks) this.armTicks();
        },
        takeRootDone: () => {
          const pending = this.rootDonePending;
          this.rootDonePending = false;
          return pending;
        },
      }),
      ...streamControlFunctions(this.vm, this.streams),
      ...this.callouts.hostFunctions(),
      ...sharedDataFunctions(this.vm, (token) => {
        if (!this.vm.failed && !this.vm.shutDown)
          this.vm.callVoid(this.vm.root, 'proxy_on_queue_ready', 1, token);
      }),
    };
    const table = envoyImportTable(abi);
    for (const key of table.keys()) {
      const [mod, name] = [key.slice(0, key.indexOf('.')), key.slice(key.indexOf('.') + 1)];
      if (mod !== 'env') continue;
      const impl = this.envFunction(name, implemented);
      env[name] = impl;
    }
    const wasi: Record<string, unknown> = {};
    const wasiOptions = { now: this.now, environment: this.opts.environment ?? {} };
    for (const name of Object.keys(WASI_FUNCTIONS))
      wasi[name] = this.vm.guarded(name, wasiFunction(name, this.vm, wasiOptions));
    const imports: WebAssembly.Imports = { env: env as WebAssembly.ModuleImports };
    for (const m of WASI_MODULES) imports[m] = wasi as WebAssembly.ModuleImports;
    void info;
    if (this.opts.traceHostCalls) {
      for (const [mod, fns] of Object.entries(imports)) {
        const wrapped: Record<string, unknown> = {};
        for (const [name, f] of Object.entries(fns)) {
          wrapped[name] = (...args: Array<number | bigint>) => {
            this.hostCalls.push({
              fn: mod === 'env' ? name : `${mod}.${name}`,
              args: args.map(Number),
              contextId: this.vm.ctx().id,
            });
            return (f as HostFn)(...args);
          };
        }
        imports[mod] = wrapped as WebAssembly.ModuleImports;
      }
    }
    return imports;
  }

  /** One env import, wrapped with the restricted-callback check (host functions live in env-functions/ and callouts.ts). */
  private envFunction(name: string, implemented: Record<string, HostFn>): HostFn {
    switch (name) {
      case 'pthread_equal':
        return this.vm.guarded(name, (a: number, b: number) => (a === b ? 1 : 0));
      case 'emscripten_notify_memory_growth':
        return this.vm.guarded(name, (_index: number) => undefined);
      case 'envoy_resolve_dns':
        return this.vm.guarded(name, (_a: number, _b: number, _c: number) => WasmResult.Unimplemented);
      default:
        break;
    }
    const impl = implemented[name];
    if (typeof impl !== 'function') throw new Error(`host function ${name} is not implemented`);
    // proxy_log is allowed in every restricted phase: skip the check on the hottest host call.
    return name === 'proxy_log' ? impl : this.vm.guarded(name, impl);
  }

  // ---------------------------------------------------------------------------------------------
  // Streams (the state machine is in filter-manager.ts)

  /** Allocates the next stream context id (2, 3, ...). on_context_create runs at request headers. */
  initializeHttpContext(info?: StreamInfoOptions): number {
    return this.streams.initializeHttpContext(info);
  }

  /** Connects a stream to a sink (the gateway); direct-drive tests don't need one. */
  attachStreamSink(id: number, sink: StreamSink): void {
    this.streams.attachStreamSink(id, sink);
  }

  callOnRequestHeaders(id: number, headers: Headers, endOfStream: boolean): Action {
    return this.streams.callOnRequestHeaders(id, headers, endOfStream);
  }

  callOnResponseHeaders(id: number, headers: Headers, endOfStream: boolean): Action {
    return this.streams.callOnResponseHeaders(id, headers, endOfStream);
  }

  callOnRequestBody(id: number, body: Bytes, endOfStream: boolean): Action {
    return this.streams.callOnRequestBody(id, body, endOfStream);
  }

  callOnResponseBody(id: number, body: Bytes, endOfStream: boolean): Action {
    return this.streams.callOnResponseBody(id, body, endOfStream);
  }

  callOnRequestTrailers(id: number, trailers: Headers): Action {
    return this.streams.callOnRequestTrailers(id, trailers);
  }

  callOnResponseTrailers(id: number, trailers: Headers): Action {
    return this.streams.callOnResponseTrailers(id, trailers);
  }

  /** on_log, on_done, on_delete (Envoy HCM: log before destroying the filters). */
  completeHttpContext(id: number): void {
    this.streams.completeHttpContext(id);
  }

  // ---------------------------------------------------------------------------------------------
  // Inspection

  getCurrentRequestHeaders(id: number): Headers {
    return this.streams.anyStream(id).req.headers?.toArray() ?? [];
  }

  getCurrentResponseHeaders(id: number): Headers {
    return this.streams.anyStream(id).resp.headers?.toArray() ?? [];
  }

  getCurrentRequestTrailers(id: number): Headers {
    return this.streams.anyStream(id).req.trailers?.toArray() ?? [];
  }

  getCurrentResponseTrailers(id: number): Headers {
    return this.streams.anyStream(id).resp.trailers?.toArray() ?? [];
  }

  getCurrentRequestBody(id: number): Uint8Array {
    return this.currentBody(this.streams.anyStream(id).req);
  }

  getCurrentResponseBody(id: number): Uint8Array {
    return this.currentBody(this.streams.anyStream(id).resp);
  }

  private currentBody(d: Direction): Uint8Array {
    const held = d.buffered.length > 0 ? d.buffered : (d.body?.data ?? EMPTY);
    return new Uint8Array(Buffer.concat([...d.releasedBody, held]));
  }

  getSentLocalResponse(id: number): LocalResponse | undefined {
    return this.streams.anyStream(id).localReply;
  }

  getStreamState(id: number): StreamState {
    const s = this.streams.anyStream(id);
    const state: StreamState = {
      phase: s.phase,
      paused: s.req.stopped !== 'none' || s.resp.stopped !== 'none',
      requestStopped: s.req.stopped !== 'none',
      responseStopped: s.resp.stopped !== 'none',
      continuedRequest: s.req.headersReleased,
      continuedResponse: s.resp.headersReleased,
      ended: s.completed,
      contextCreated: s.createdInVm,
      bypassed: s.bypass,
    };
    if (s.localReply) state.localReply = s.localReply;
    if (s.resetDetails) state.reset = s.resetDetails;
    return state;
  }

  getHttpCallouts(filter?: { contextId?: number; pending?: boolean }): HttpCallout[] {
    return this.callouts.list(filter);
  }

  /** Delivers a response to proxy_on_http_call_response(ROOT id, token, ...). */
  respondToHttpCall(token: number, reply: CalloutReply): void {
    this.callouts.respond(token, reply);
  }

  /** A reset: (root, token, 0, 0, 0) with proxy_get_status = (11, "reset") during the callback. */
  failHttpCall(token: number): void {
    this.callouts.fail(token);
  }

  /** The router's timeout reply: a success with 504 "upstream request timeout". */
  timeoutHttpCall(token: number): void {
    this.callouts.timeout(token);
  }

  /** Resolves once every real-network callout has been delivered. */
  /** Envoy's cluster.NAME.upstream_rq_active_overflow: callouts refused by the circuit breaker (1024 in flight). */
  getClusterOverflows(cluster: string): number {
    return this.callouts.overflowCount(cluster);
  }

  whenIdle(): Promise<void> {
    return this.callouts.whenIdle();
  }

  getLogs(minLevel: LogLevel = LogLevel.trace): LogEntry[] {
    return this.logs.atLeast(minLevel);
  }

  clearLogs(): void {
    this.logs.clear();
  }

  getCounter(name: string): bigint | undefined {
    return this.metrics.counter(name);
  }

  getGauge(name: string): bigint | undefined {
    return this.metrics.gauge(name);
  }

  getHistogram(name: string): bigint[] | undefined {
    return this.metrics.histogram(name);
  }

  /** Every metric by name: counters and gauges as their value, histograms as their samples. */
  getMetrics(): Record<string, bigint | bigint[]> {
    return this.metrics.all();
  }

  getVmCallTrace(): Array<{ fn: string; args: number[] }> {
    return this.vm.trace.map((t) => ({ fn: t.fn, args: t.args.slice() }));
  }

  clearVmCallTrace(): void {
    this.vm.trace = [];
  }

  /** Host functions the guest called (needs `traceHostCalls`), with the effective context at the time. */
  getHostCallTrace(): HostCall[] {
    return this.hostCalls.map((c) => ({ ...c, args: c.args.slice() }));
  }

  clearHostCallTrace(): void {
    this.hostCalls = [];
  }

  setVmCallTrace(on: boolean): void {
    this.vm.traceOn = on;
  }

  getProperty(path: string): PropertyValue | undefined {
    return this.properties.get(path);
  }

  setProperty(path: string, value: Bytes): void {
    this.properties.set(path, value);
  }

  getTickPeriod(): number {
    return this.tickPeriodMs;
  }

  /** proxy_on_tick(root). */
  tick(): void {
    this.vm.assertUsable();
    if (!this.vm.failed) this.vm.callVoid(this.vm.root, 'proxy_on_tick', 1);
  }

  /** Runs proxy_on_tick on a real timer with the period the plugin set (the gateway uses this). */
  enableRealTicks(): void {
    this.realTicks = true;
    this.armTicks();
  }

  private armTicks(): void {
    this.stopTicks();
    if (this.tickPeriodMs === 0 || this.vm.failed || this.vm.shutDown) return;
    this.tickTimer = setInterval(() => this.tick(), this.tickPeriodMs);
    this.tickTimer.unref();
  }

  private stopTicks(): void {
    if (this.tickTimer) clearInterval(this.tickTimer);
    this.tickTimer = undefined;
  }

  isFailed(): boolean {
    return this.vm.failed;
  }

  /** Current size of the guest's linear memory in bytes. */
  memoryBytes(): number {
    return this.vm.mem.size;
  }

  /** Raw exports, for benchmarks and low-level tests. */
  get exports(): WebAssembly.Exports {
    return this.instance.exports;
  }

  /** Root on_done then on_delete; pending callouts are cancelled and never delivered. */
  shutdown(): void {
    if (this.vm.shutDown) return;
    if (!this.vm.failed) {
      const done = this.vm.callWord(this.vm.root, 'proxy_on_done', [1], 1);
      if (done !== 0 || this.vm.failed) {
        if (!this.vm.failed) this.vm.callVoid(this.vm.root, 'proxy_on_delete', 1);
      } else {
        this.rootDonePending = true;
      }
    }
    this.vm.shutDown = true;
    this.stopTicks();
    this.callouts.shutdown();
  }
}

// Envoy's proxy_get_current_time_nanoseconds reads the system clock at nanosecond resolution; a
// Date.now() clock would step in whole milliseconds. So: the wall clock once, then the monotonic
// high-resolution clock from there.
const WALL_AT_START = BigInt(Math.round((performance.timeOrigin + performance.now()) * 1e6));
const MONOTONIC_AT_START = process.hrtime.bigint();

/** The wall clock in nanoseconds, with sub-millisecond resolution. */
export function wallClockNanoseconds(): bigint {
  return WALL_AT_START + (process.hrtime.bigint() - MONOTONIC_AT_START);
}
