// A tiny WebAssembly binary encoder for host tests: enough to craft modules with exact imports,
// exports, function bodies, data segments and a start section (no new npm dependencies).

export type WasmValType = 'i32' | 'i64' | 'f32' | 'f64';

const VALTYPE: Record<WasmValType, number> = { i32: 0x7f, i64: 0x7e, f32: 0x7d, f64: 0x7c };

export function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n = Math.floor(n / 128);
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

export function sleb(value: number | bigint): number[] {
  let n = BigInt(value);
  const out: number[] = [];
  for (;;) {
    const b = Number(n & 0x7fn);
    n >>= 7n;
    const done = (n === 0n && (b & 0x40) === 0) || (n === -1n && (b & 0x40) !== 0);
    out.push(done ? b : b | 0x80);
    if (done) return out;
  }
}

function name(s: string): number[] {
  const b = [...Buffer.from(s, 'utf8')];
  return [...uleb(b.length), ...b];
}

function vec(items: number[][]): number[] {
  return [...uleb(items.length), ...items.flat()];
}

function section(id: number, body: number[]): number[] {
  return [id, ...uleb(body.length), ...body];
}

/** Instruction helpers (each returns the encoded bytes). */
export const op = {
  unreachable: () => [0x00],
  nop: () => [0x01],
  end: () => [0x0b],
  return: () => [0x0f],
  drop: () => [0x1a],
  call: (f: number) => [0x10, ...uleb(f)],
  localGet: (i: number) => [0x20, ...uleb(i)],
  localSet: (i: number) => [0x21, ...uleb(i)],
  localTee: (i: number) => [0x22, ...uleb(i)],
  globalGet: (i: number) => [0x23, ...uleb(i)],
  globalSet: (i: number) => [0x24, ...uleb(i)],
  i32Load: (offset = 0) => [0x28, 2, ...uleb(offset)],
  i64Load: (offset = 0) => [0x29, 3, ...uleb(offset)],
  i32Store: (offset = 0) => [0x36, 2, ...uleb(offset)],
  i64Store: (offset = 0) => [0x37, 3, ...uleb(offset)],
  memorySize: () => [0x3f, 0],
  memoryGrow: () => [0x40, 0],
  i32Const: (n: number) => [0x41, ...sleb(n | 0)],
  i64Const: (n: number | bigint) => [0x42, ...sleb(n)],
  i32Add: () => [0x6a],
  i32Sub: () => [0x6b],
  i32And: () => [0x71],
  i32Shl: () => [0x74],
  i32ShrU: () => [0x76],
  i32GtU: () => [0x4b],
  i32Eqz: () => [0x45],
  if: () => [0x04, 0x40],
  else: () => [0x05],
};

interface FuncType {
  params: WasmValType[];
  results: WasmValType[];
}

interface Func {
  type: number;
  locals: WasmValType[];
  body: number[];
}

export class ModuleEncoder {
  private readonly types: FuncType[] = [];
  private readonly imports: Array<{ module: string; name: string; type: number }> = [];
  private readonly funcs: Func[] = [];
  private readonly exports: Array<{ name: string; kind: number; index: number }> = [];
  private readonly globals: Array<{ type: WasmValType; init: number }> = [];
  private readonly data: Array<{ offset: number; bytes: Uint8Array }> = [];
  private memory: { min: number; max?: number } | undefined;
  private start: number | undefined;

  typeIndex(params: WasmValType[], results: WasmValType[]): number {
    const key = `${params.join(',')}->${results.join(',')}`;
    const i = this.types.findIndex((t) => `${t.params.join(',')}->${t.results.join(',')}` === key);
    if (i >= 0) return i;
    this.types.push({ params, results });
    return this.types.length - 1;
  }

  /** Function imports must all be added before the first defined function. */
  addImport(module: string, name: string, params: WasmValType[], results: WasmValType[]): number {
    if (this.funcs.length > 0) throw new Error('add imports before functions');
    this.imports.push({ module, name, type: this.typeIndex(params, results) });
    return this.imports.length - 1;
  }

  get importCount(): number {
    return this.imports.length;
  }

  addFunction(
    params: WasmValType[],
    results: WasmValType[],
    body: number[],
    locals: WasmValType[] = [],
  ): number {
    this.funcs.push({ type: this.typeIndex(params, results), locals, body });
    return this.imports.length + this.funcs.length - 1;
  }

  addGlobal(type: WasmValType, init: number): number {
    this.globals.push({ type, init });
    return this.globals.length - 1;
  }

  setMemory(minPages: number, maxPages?: number): void {
    this.memory = maxPages === undefined ? { min: minPages } : { min: minPages, max: maxPages };
  }

  addData(offset: number, bytes: Uint8Array): void {
    this.data.push({ offset, bytes });
  }

  exportFunction(name: string, index: number): void {
    this.exports.push({ name, kind: 0, index });
  }

  exportMemory(name = 'memory'): void {
    this.exports.push({ name, kind: 2, index: 0 });
  }

  setStart(index: number): void {
    this.start = index;
  }

  encode(): Uint8Array {
    const out: number[] = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
    out.push(
      ...section(
        1,
        vec(
          this.types.map((t) => [
            0x60,
            ...vec(t.params.map((p) => [VALTYPE[p]])),
            ...vec(t.results.map((r) => [VALTYPE[r]])),
          ]),
        ),
      ),
    );
    if (this.imports.length) {
      out.push(
        ...section(
          2,
          vec(this.imports.map((i) => [...name(i.module), ...name(i.name), 0x00, ...uleb(i.type)])),
        ),
      );
    }
    if (this.funcs.length) out.push(...section(3, vec(this.funcs.map((f) => uleb(f.type)))));
    if (this.memory) {
      const m = this.memory;
      out.push(
        ...section(
          5,
          vec([m.max === undefined ? [0x00, ...uleb(m.min)] : [0x01, ...uleb(m.min), ...uleb(m.max)]]),
        ),
      );
    }
    if (this.globals.length) {
      out.push(
        ...section(
          6,
          vec(
            this.globals.map((g) => [
              VALTYPE[g.type],
              0x01,
              ...(g.type === 'i64' ? op.i64Const(g.init) : op.i32Const(g.init)),
              0x0b,
            ]),
          ),
        ),
      );
    }
    if (this.exports.length) {
      out.push(...section(7, vec(this.exports.map((e) => [...name(e.name), e.kind, ...uleb(e.index)]))));
    }
    if (this.start !== undefined) out.push(...section(8, uleb(this.start)));
    if (this.funcs.length) {
      out.push(
        ...section(
          10,
          vec(
            this.funcs.map((f) => {
              const locals = vec(f.locals.map((l) => [1, VALTYPE[l]]));
              const body = [...locals, ...f.body, 0x0b];
              return [...uleb(body.length), ...body];
            }),
          ),
        ),
      );
    }
    if (this.data.length) {
      out.push(
        ...section(
          11,
          vec(
            this.data.map((d) => [0x00, ...op.i32Const(d.offset), 0x0b, ...uleb(d.bytes.length), ...d.bytes]),
          ),
        ),
      );
    }
    return new Uint8Array(out);
  }
}
