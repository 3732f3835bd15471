// Scripted proxy-wasm guest modules for host tests. A test describes, per exported callback, the
// host calls the guest makes (with constant, parameter or memory-loaded arguments, and where to
// store each result) and what the callback returns; the builder compiles that to real wasm code.
// Imports are declared with Envoy's exact signatures unless a test overrides them on purpose.

import { type AbiVersion, encodePairs, envoyImportTable } from '../../host/index.js';
import { type FuncSig } from '../../host/wasm-binary.js';
import { ModuleEncoder, type WasmValType, op } from './wasm-encoder.js';

/** Scratch area the guest stores results into (addresses 1024..4095). */
export const SLOT_BASE = 1024;
export const slot = (n: number) => SLOT_BASE + n * 8;
/** The bump allocator counts its calls here. */
export const MALLOC_COUNT_ADDR = 1016;
const DATA_BASE = 4096;
const HEAP_BASE = 65536;

export interface DataRef {
  ptr: number;
  len: number;
}

export type Arg = number | bigint | DataRef | { param: number } | { load: number };

export type Step =
  | { call: string; args: Arg[]; store?: number }
  | { log: string; level?: number }
  | { storeParam: number; at: number }
  | { trap: true }
  | { loopForever: true };

export type Ret = number | { load: number };

interface CallbackDef {
  name: string;
  sig: FuncSig;
  steps: Step[];
  ret: Ret | undefined;
}

const CALLBACK_DEFAULT_RET: Record<string, number> = {
  proxy_on_vm_start: 1,
  proxy_on_configure: 1,
  proxy_validate_configuration: 1,
  proxy_on_done: 1,
};

export interface BuilderOptions {
  abi?: AbiVersion | null;
  malloc?: 'malloc' | 'proxy_on_memory_allocate' | null;
  memory?: boolean;
}

export class ProxyModuleBuilder {
  private readonly abi: AbiVersion | null;
  private readonly table: Map<string, FuncSig>;
  private readonly explicitImports: Array<{ key: string; sig: FuncSig }> = [];
  private readonly callbacks: CallbackDef[] = [];
  private readonly dataSegments: Array<{ offset: number; bytes: Uint8Array }> = [];
  private dataEnd = DATA_BASE;

  constructor(private readonly opts: BuilderOptions = {}) {
    this.abi = opts.abi === undefined ? '0.2.0' : opts.abi;
    this.table = envoyImportTable(this.abi ?? '0.2.0');
  }

  /** Places bytes in a data segment and returns where they are. */
  data(value: Uint8Array | string): DataRef {
    const bytes = typeof value === 'string' ? new Uint8Array(Buffer.from(value)) : value;
    const ptr = this.dataEnd;
    if (bytes.length > 0) this.dataSegments.push({ offset: ptr, bytes });
    this.dataEnd = (ptr + bytes.length + 7) & ~7;
    if (this.dataEnd >= HEAP_BASE) throw new Error('fixture data does not fit below the heap');
    return { ptr, len: bytes.length };
  }

  /** Serialized header pairs in a data segment. */
  pairs(headers: Array<[string, string]>): DataRef {
    return this.data(encodePairs(headers));
  }

  /** Declares an import with a chosen signature (to test what Envoy rejects). */
  importFn(module: string, name: string, params: WasmValType[], results: WasmValType[]): this {
    this.explicitImports.push({ key: `${module}.${name}`, sig: { params, results } });
    return this;
  }

  /** An exported callback: runs `steps`, then returns `ret` (default 1 for start/configure/done, else 0). */
  callback(name: string, steps: Step[] = [], ret?: Ret, sig?: FuncSig): this {
    const s = sig ?? CALLBACK_SIGS(this.abi)[name];
    if (!s) throw new Error(`unknown callback ${name}; pass its signature`);
    this.callbacks.push({ name, sig: s, steps, ret });
    return this;
  }

  build(): Uint8Array {
    const m = new ModuleEncoder();
    const importIndex = new Map<string, { index: number; sig: FuncSig }>();
    const addImport = (key: string, sig: FuncSig) => {
      if (importIndex.has(key)) return;
      const dot = key.indexOf('.');
      const index = m.addImport(
        key.slice(0, dot),
        key.slice(dot + 1),
        sig.params as WasmValType[],
        sig.results as WasmValType[],
      );
      importIndex.set(key, { index, sig });
    };
    for (const e of this.explicitImports) addImport(e.key, e.sig);
    const keyOf = (call: string) => (call.includes('.') ? call : `env.${call}`);
    for (const cb of this.callbacks) {
      for (const st of cb.steps) {
        if ('log' in st) addImport('env.proxy_log', this.table.get('env.proxy_log')!);
        if ('call' in st) {
          const key = keyOf(st.call);
          if (!importIndex.has(key)) {
            const sig = this.table.get(key);
            if (!sig) throw new Error(`${key} is not an Envoy import; declare it with importFn()`);
            addImport(key, sig);
          }
        }
      }
    }

    m.setMemory(2);
    if (this.opts.memory !== false) m.exportMemory('memory');
    const heap = m.addGlobal('i32', HEAP_BASE);

    if (this.abi)
      m.exportFunction(`proxy_abi_version_${this.abi.replace(/\./g, '_')}`, m.addFunction([], [], []));

    if (this.opts.malloc !== null) {
      // Bump allocator that counts its calls and grows memory when needed.
      const body = [
        ...op.i32Const(MALLOC_COUNT_ADDR),
        ...op.i32Const(MALLOC_COUNT_ADDR),
        ...op.i32Load(),
        ...op.i32Const(1),
        ...op.i32Add(),
        ...op.i32Store(),
        ...op.globalGet(heap),
        ...op.localSet(1),
        ...op.globalGet(heap),
        ...op.localGet(0),
        ...op.i32Add(),
        ...op.i32Const(7),
        ...op.i32Add(),
        ...op.i32Const(-8),
        ...op.i32And(),
        ...op.globalSet(heap),
        ...op.globalGet(heap),
        ...op.memorySize(),
        ...op.i32Const(16),
        ...op.i32Shl(),
        ...op.i32GtU(),
        ...op.if(),
        ...op.globalGet(heap),
        ...op.memorySize(),
        ...op.i32Const(16),
        ...op.i32Shl(),
        ...op.i32Sub(),
        ...op.i32Const(16),
        ...op.i32ShrU(),
        ...op.i32Const(1),
        ...op.i32Add(),
        ...op.memoryGrow(),
        ...op.drop(),
        ...op.end(),
        ...op.localGet(1),
      ];
      m.exportFunction(this.opts.malloc ?? 'malloc', m.addFunction(['i32'], ['i32'], body, ['i32']));
    }

    for (const cb of this.callbacks) {
      const body: number[] = [];
      for (const st of cb.steps) body.push(...this.compileStep(st, importIndex, keyOf));
      if (cb.sig.results.length > 0) {
        const ret = cb.ret ?? CALLBACK_DEFAULT_RET[cb.name] ?? 0;
        if (typeof ret === 'number') body.push(...op.i32Const(ret));
        else body.push(...op.i32Const(ret.load), ...op.i32Load());
      }
      m.exportFunction(
        cb.name,
        m.addFunction(cb.sig.params as WasmValType[], cb.sig.results as WasmValType[], body),
      );
    }
    for (const d of this.dataSegments) m.addData(d.offset, d.bytes);
    return m.encode();
  }

  private compileStep(
    st: Step,
    imports: Map<string, { index: number; sig: FuncSig }>,
    keyOf: (c: string) => string,
  ): number[] {
    if ('trap' in st) return op.unreachable();
    // loop (br 0) end: a guest that never returns.
    if ('loopForever' in st) return [0x03, 0x40, 0x0c, 0x00, 0x0b];
    if ('storeParam' in st) return [...op.i32Const(st.at), ...op.localGet(st.storeParam), ...op.i32Store()];
    if ('log' in st) {
      const d = this.data(st.log);
      const log = imports.get('env.proxy_log')!;
      return [
        ...op.i32Const(st.level ?? 2),
        ...op.i32Const(d.ptr),
        ...op.i32Const(d.len),
        ...op.call(log.index),
        ...op.drop(),
      ];
    }
    const imp = imports.get(keyOf(st.call))!;
    const out: number[] = [];
    const returns = imp.sig.results.length > 0;
    if (st.store !== undefined && returns) out.push(...op.i32Const(st.store));
    for (const a of st.args) {
      if (typeof a === 'number') out.push(...op.i32Const(a));
      else if (typeof a === 'bigint') out.push(...op.i64Const(a));
      else if ('param' in a) out.push(...op.localGet(a.param));
      else if ('load' in a) out.push(...op.i32Const(a.load), ...op.i32Load());
      else out.push(...op.i32Const(a.ptr), ...op.i32Const(a.len));
    }
    out.push(...op.call(imp.index));
    if (returns) out.push(...(st.store !== undefined ? op.i32Store() : op.drop()));
    return out;
  }
}

function CALLBACK_SIGS(abi: AbiVersion | null): Record<string, FuncSig> {
  const w = (n: number, r = true): FuncSig => ({ params: Array(n).fill('i32'), results: r ? ['i32'] : [] });
  const headersArity = abi === '0.1.0' ? 2 : 3;
  return {
    _initialize: w(0, false),
    _start: w(0, false),
    proxy_on_context_create: w(2, false),
    proxy_on_vm_start: w(2),
    proxy_on_configure: w(2),
    proxy_validate_configuration: w(2),
    proxy_on_tick: w(1, false),
    proxy_on_request_headers: w(headersArity),
    proxy_on_request_body: w(3),
    proxy_on_request_trailers: w(2),
    proxy_on_response_headers: w(headersArity),
    proxy_on_response_body: w(3),
    proxy_on_response_trailers: w(2),
    proxy_on_http_call_response: w(5, false),
    proxy_on_queue_ready: w(2, false),
    proxy_on_log: w(1, false),
    proxy_on_done: w(1),
    proxy_on_delete: w(1, false),
  };
}

/** The full set of lifecycle callbacks, each logging its own name (for order tests). */
export function lifecycleModule(abi: AbiVersion = '0.2.0'): ProxyModuleBuilder {
  const b = new ProxyModuleBuilder({ abi });
  for (const name of [
    'proxy_on_context_create',
    'proxy_on_vm_start',
    'proxy_on_configure',
    'proxy_on_request_headers',
    'proxy_on_request_body',
    'proxy_on_request_trailers',
    'proxy_on_response_headers',
    'proxy_on_response_body',
    'proxy_on_response_trailers',
    'proxy_on_log',
    'proxy_on_done',
    'proxy_on_delete',
  ]) {
    b.callback(name, [{ log: name }]);
  }
  return b;
}

/** Little helpers to read what the guest stored. */
export function readU32(memory: WebAssembly.Memory, addr: number): number {
  return new DataView(memory.buffer).getUint32(addr, true);
}

export function readU64(memory: WebAssembly.Memory, addr: number): bigint {
  return new DataView(memory.buffer).getBigUint64(addr, true);
}

export function readBytes(memory: WebAssembly.Memory, ptr: number, len: number): Uint8Array {
  return new Uint8Array(memory.buffer, ptr, len).slice();
}

export function writeU32(memory: WebAssembly.Memory, addr: number, value: number): void {
  new DataView(memory.buffer).setUint32(addr, value, true);
}

/**
 * A probe for callouts: on_request_headers stores its context id in slot 20, calls cluster "back"
 * (GET /jump, authority back-python, x-request-id r1, timeout `timeoutMs`) and stops; the
 * http-call callback records what it can read into slots (see below), then sets the effective
 * context back to the stream and continues it.
 *   slot 2..4: context id, header count, body size     slot 5..7: get_header_map_value(6, ":status")
 *   slot 8..10: get_header_map_pairs(6)                  slot 11..13: get_buffer_bytes(4)
 *   slot 14..17: get_status (result, code, msg ptr, len) slot 18/19: set_effective_context / continue_stream
 *   slot 21..23: get_header_map_value(6, ":status") in on_response_headers
 */
export function calloutProbeModule(extraResponseSteps: Step[] = [], timeoutMs = 1000): Uint8Array {
  const b = new ProxyModuleBuilder();
  const cluster = b.data('back');
  const empty = b.data('');
  const status = b.data(':status');
  const headers = b.pairs([
    [':method', 'GET'],
    [':path', '/jump'],
    [':authority', 'back-python'],
    ['x-request-id', 'r1'],
  ]);
  b.callback(
    'proxy_on_request_headers',
    [
      { storeParam: 0, at: slot(20) },
      { call: 'proxy_http_call', args: [cluster, headers, empty, empty, timeoutMs, slot(1)], store: slot(0) },
    ],
    1,
  );
  b.callback('proxy_on_http_call_response', [
    { storeParam: 0, at: slot(2) },
    { storeParam: 2, at: slot(3) },
    { storeParam: 3, at: slot(4) },
    { call: 'proxy_get_header_map_value', args: [6, status, slot(6), slot(7)], store: slot(5) },
    { call: 'proxy_get_header_map_pairs', args: [6, slot(9), slot(10)], store: slot(8) },
    { call: 'proxy_get_buffer_bytes', args: [4, 0, -1, slot(12), slot(13)], store: slot(11) },
    { call: 'proxy_get_status', args: [slot(15), slot(16), slot(17)], store: slot(14) },
    ...extraResponseSteps,
    { call: 'proxy_set_effective_context', args: [{ load: slot(20) }], store: slot(18) },
    { call: 'proxy_continue_stream', args: [0], store: slot(19) },
    { log: 'callback end' },
  ]);
  b.callback('proxy_on_request_body', [{ log: 'request body' }]);
  b.callback('proxy_on_done');
  b.callback('proxy_on_delete');
  b.callback('proxy_on_response_headers', [
    { call: 'proxy_get_header_map_value', args: [6, status, slot(22), slot(23)], store: slot(21) },
  ]);
  return b.build();
}

/** UTF-8 text at the (ptr, len) the guest stored in two slots. */
export function slotText(memory: WebAssembly.Memory, ptrSlot: number, lenSlot: number): string {
  return Buffer.from(
    readBytes(memory, readU32(memory, slot(ptrSlot)), readU32(memory, slot(lenSlot))),
  ).toString();
}
