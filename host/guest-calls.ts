// Calling into the guest with cpp-host's bookkeeping: which context is current (SaveRestoreContext),
// the effective context a host call acts on (proxy_set_effective_context), the restricted host-call
// lists of the start and malloc phases, actions deferred until the guest returns
// (DeferAfterCallActions), and the VM failing for good after a trap. Every host function and the
// filter manager go through this one object, because that state is process-wide in the VM.

import vm from 'node:vm';
import { LogLevel, MALLOC_ALLOWED_HOSTCALLS } from './abi.js';
import type { LogBook } from './logs.js';
import type { GuestMemory } from './memory.js';
import { type AnyContext, RootLikeContext, StreamContext } from './stream.js';

export type GuestFn = (...args: number[]) => number | undefined;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type HostFn = (...args: any[]) => number | void;

/** Thrown from a host function to trap the guest (Envoy traps restricted callbacks). */
class HostTrap extends Error {}

// Bounded so a long benchmark or dev session does not keep every call; the older half goes.
const MAX_TRACE = 200_000;

/**
 * A stop for guest code that never returns. Envoy has none (a looping module hangs its worker
 * thread), but `meshwasm dev` is a tool: the outermost guest call then runs under node:vm, whose
 * watchdog terminates V8 execution (wasm included) after `timeoutMs` or on SIGINT. The VM then
 * fails as after a trap. It costs a watchdog per outermost guest call, so it is opt-in.
 */
export interface GuestWatchdog {
  timeoutMs?: number;
  breakOnSigint?: boolean;
}

const WATCHED_CALL = new vm.Script('run()');

export class GuestCalls {
  readonly vmContext = new RootLikeContext(0, 'vm');
  readonly root = new RootLikeContext(1, 'root');
  /** Live contexts by id (VM, root, streams not yet completed). */
  readonly contexts = new Map<number, AnyContext>();

  /** Set by attach() once the instance exists; host functions only run after that. */
  mem!: GuestMemory;
  fn: Record<string, GuestFn | undefined> = {};
  private malloc!: GuestFn;

  current: AnyContext | null = null;
  private effectiveId = 0;
  restricted: ReadonlySet<string> | null = null;
  readonly afterActions: Array<() => void> = [];
  /** Set by proxy_send_local_response: the callback's status is overridden with Stop*. */
  stopNextIteration = false;
  failed = false;
  /** shutdown() ran: nothing enters the guest any more. */
  shutDown = false;

  traceOn: boolean;
  trace: Array<{ fn: string; args: number[] }> = [];

  constructor(
    readonly logs: LogBook,
    traceOn: boolean,
    /** Runs once when the VM fails (the host stops its tick timer). */
    private readonly onFail: () => void,
    private readonly watchdog?: GuestWatchdog,
  ) {
    this.traceOn = traceOn;
    this.contexts.set(0, this.vmContext);
    this.contexts.set(1, this.root);
  }

  assertUsable(): void {
    if (this.shutDown) throw new Error('ProxyWasmHost was shut down');
  }

  attach(mem: GuestMemory, fn: Record<string, GuestFn | undefined>): void {
    this.mem = mem;
    this.fn = fn;
    this.malloc = (fn.malloc ?? fn.proxy_on_memory_allocate)!;
  }

  guestCall(ctx: AnyContext, name: string, f: GuestFn, args: number[]): number {
    if (this.failed) return 0;
    if (this.traceOn) this.recordTrace(name, args);
    const savedCurrent = this.current;
    const savedEffective = this.effectiveId;
    const watched = this.watchdog !== undefined && savedCurrent === null;
    this.current = ctx;
    this.effectiveId = 0;
    try {
      const r = watched ? this.watchedCall(f, args) : f(...args);
      return typeof r === 'number' ? r >>> 0 : 0;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ERR_SCRIPT_EXECUTION_TIMEOUT') {
        this.fail(name, new Error(`ran longer than the guest timeout (${this.watchdog!.timeoutMs} ms)`));
      } else if (code === 'ERR_SCRIPT_EXECUTION_INTERRUPTED') {
        this.fail(name, new Error('interrupted by SIGINT'));
        // The watchdog swallowed the signal; deliver it again so the process still stops on it.
        setImmediate(() => process.kill(process.pid, 'SIGINT'));
      } else {
        this.fail(name, e);
      }
      return 0;
    } finally {
      this.current = savedCurrent;
      this.effectiveId = savedEffective;
    }
  }

  private watchContext: { run?: () => number | undefined } | undefined;

  private watchedCall(f: GuestFn, args: number[]): number | undefined {
    const context = (this.watchContext ??= vm.createContext({}) as { run?: () => number | undefined });
    context.run = () => f(...args);
    try {
      return WATCHED_CALL.runInContext(context, {
        timeout: this.watchdog!.timeoutMs,
        breakOnSigint: this.watchdog!.breakOnSigint,
      }) as number | undefined;
    } finally {
      context.run = undefined;
    }
  }

  private recordTrace(fn: string, args: number[]): void {
    if (this.trace.length >= MAX_TRACE) this.trace.splice(0, MAX_TRACE / 2);
    this.trace.push({ fn, args: args.slice() });
  }

  /** A callback returning a Word. Missing export -> `missing`. Runs deferred actions afterwards. */
  callWord(ctx: AnyContext, name: string, args: number[], missing: number): number {
    const f = this.fn[name];
    if (!f) return missing;
    const r = this.guestCall(ctx, name, f, args);
    this.afterCall();
    return r;
  }

  callVoid(ctx: AnyContext, name: string, ...args: number[]): void {
    const f = this.fn[name];
    if (!f) return;
    this.guestCall(ctx, name, f, args);
    this.afterCall();
  }

  /** DeferAfterCallActions destructor: clear stopNextIteration, run queued actions FIFO. */
  afterCall(): void {
    this.stopNextIteration = false;
    this.drainAfterActions();
  }

  drainAfterActions(): void {
    while (this.afterActions.length > 0) {
      const action = this.afterActions.shift()!;
      action();
    }
  }

  private fail(fnName: string, e: unknown): void {
    if (this.failed) return;
    this.failed = true;
    // V8 in Envoy reports a Wasm trap as an uncaught exception: "Uncaught RuntimeError: unreachable"
    // (test/engines-modules.test.ts); what a host function throws keeps its own message.
    const msg =
      e instanceof WebAssembly.RuntimeError
        ? `Uncaught RuntimeError: ${e.message}`
        : e instanceof Error
          ? e.message
          : String(e);
    this.hostLog(LogLevel.error, `Function: ${fnName} failed: ${msg}`);
    this.onFail();
  }

  hostLog(level: LogLevel, message: string): void {
    this.logs.push({ level, message, contextId: this.current?.id ?? 0, source: 'host' });
  }

  /** What the guest logged, attributed to the context the call acts on. */
  guestLog(level: LogLevel, message: string): void {
    this.logs.push({ level, message, contextId: this.ctx().id, source: 'guest' });
  }

  /** contextOrEffectiveContext(). */
  ctx(): AnyContext {
    const cur = this.current ?? this.vmContext;
    if (this.effectiveId === 0) return cur;
    return this.contexts.get(this.effectiveId) ?? cur;
  }

  /** proxy_set_effective_context: false when no such context is live. */
  setEffective(id: number): boolean {
    if (!this.contexts.has(id)) return false;
    this.effectiveId = id;
    return true;
  }

  rootOf(c: AnyContext): RootLikeContext {
    return c instanceof StreamContext ? this.root : c;
  }

  /**
   * Wraps a host function with the restricted-callback check (start and malloc phases), as a
   * fixed-arity closure created once at instantiation so the hot path allocates nothing.
   */
  guarded(name: string, f: HostFn): HostFn {
    const check = () => {
      if (this.restricted !== null && !this.restricted.has(name)) throw new HostTrap('restricted_callback');
    };
    switch (f.length) {
      case 0:
        return () => {
          check();
          return f();
        };
      case 1:
        return (a) => {
          check();
          return f(a);
        };
      case 2:
        return (a, b) => {
          check();
          return f(a, b);
        };
      case 3:
        return (a, b, c) => {
          check();
          return f(a, b, c);
        };
      case 4:
        return (a, b, c, d) => {
          check();
          return f(a, b, c, d);
        };
      case 5:
        return (a, b, c, d, e) => {
          check();
          return f(a, b, c, d, e);
        };
      default:
        return (...args) => {
          check();
          return f(...args);
        };
    }
  }

  /** WasmBase::allocMemory: malloc under the VM context with the malloc-time restricted list. */
  private alloc(size: number): number {
    if (this.failed) return 0;
    const savedRestricted = this.restricted;
    this.restricted = MALLOC_ALLOWED_HOSTCALLS;
    const savedCurrent = this.current;
    const savedEffective = this.effectiveId;
    this.current = this.vmContext;
    this.effectiveId = 0;
    try {
      return (this.malloc(size) as number) >>> 0;
    } finally {
      this.restricted = savedRestricted;
      this.current = savedCurrent;
      this.effectiveId = savedEffective;
    }
  }

  /** copyToPointerSize: (0,0) without malloc for empty data; false = InvalidMemoryAccess. */
  copyOut(data: Uint8Array, ptrPtr: number, sizePtr: number): boolean {
    let ptr = 0;
    if (data.length > 0) {
      ptr = this.alloc(data.length);
      if (ptr === 0 || !this.mem.setBytes(ptr, data)) return false;
    }
    return this.mem.setU32(ptrPtr, ptr) && this.mem.setU32(sizePtr, data.length);
  }
}
