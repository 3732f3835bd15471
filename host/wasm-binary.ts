// Minimal reader for the parts of a wasm binary the host needs before linking: the type, import,
// function and export sections. Node's WebAssembly.Module.imports() reports names but no function
// types, and Envoy (V8::link in proxy-wasm-cpp-host) compares every import's type with the host's,
// so we read the types from the binary ourselves.

export type ValType = 'i32' | 'i64' | 'f32' | 'f64' | 'v128' | 'funcref' | 'externref' | 'unknown';

export interface FuncSig {
  params: ValType[];
  results: ValType[];
}

export type ExternKind = 'function' | 'table' | 'memory' | 'global' | 'tag';

export interface ImportEntry {
  module: string;
  name: string;
  kind: ExternKind;
  /** Function imports only. */
  sig?: FuncSig;
}

export interface ExportEntry {
  name: string;
  kind: ExternKind;
  /** Function exports only. */
  sig?: FuncSig;
}

export interface ModuleInfo {
  imports: ImportEntry[];
  exports: ExportEntry[];
  hasStartSection: boolean;
}

export class WasmParseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WasmParseError';
  }
}

const KINDS: ExternKind[] = ['function', 'table', 'memory', 'global', 'tag'];

function valType(b: number): ValType {
  switch (b) {
    case 0x7f:
      return 'i32';
    case 0x7e:
      return 'i64';
    case 0x7d:
      return 'f32';
    case 0x7c:
      return 'f64';
    case 0x7b:
      return 'v128';
    case 0x70:
      return 'funcref';
    case 0x6f:
      return 'externref';
    default:
      return 'unknown';
  }
}

class Reader {
  pos = 0;
  constructor(
    private readonly b: Uint8Array,
    readonly end = b.length,
  ) {}

  byte(): number {
    if (this.pos >= this.end) throw new WasmParseError('unexpected end of section');
    return this.b[this.pos++]!;
  }

  /** Unsigned LEB128; values above 2^32 are only skipped over (memory64 limits), so a number is fine. */
  u32(): number {
    let result = 0;
    let shift = 0;
    for (;;) {
      const byte = this.byte();
      result += (byte & 0x7f) * 2 ** shift;
      if ((byte & 0x80) === 0) return result;
      shift += 7;
      if (shift > 63) throw new WasmParseError('LEB128 too long');
    }
  }

  name(): string {
    const len = this.u32();
    if (this.pos + len > this.end) throw new WasmParseError('name runs past the section');
    const s = Buffer.from(this.b.buffer, this.b.byteOffset + this.pos, len).toString('utf8');
    this.pos += len;
    return s;
  }

  limits(): void {
    const flags = this.u32();
    this.u32();
    if (flags & 1) this.u32();
  }
}

/** Parses the sections the loader checks. Throws WasmParseError on a corrupt module. */
export function parseModule(bytes: Uint8Array): ModuleInfo {
  if (bytes.length < 8 || bytes[0] !== 0 || bytes[1] !== 0x61 || bytes[2] !== 0x73 || bytes[3] !== 0x6d) {
    throw new WasmParseError('not a wasm module (bad magic)');
  }
  if (bytes[4] !== 1 || bytes[5] !== 0 || bytes[6] !== 0 || bytes[7] !== 0) {
    throw new WasmParseError('unsupported wasm binary version');
  }
  const types: FuncSig[] = [];
  const funcTypes: number[] = []; // type index of every function, imported ones first
  const imports: ImportEntry[] = [];
  const rawExports: Array<{ name: string; kind: ExternKind; index: number }> = [];
  let hasStartSection = false;

  const top = new Reader(bytes);
  top.pos = 8;
  while (top.pos < bytes.length) {
    const id = top.byte();
    const size = top.u32();
    const start = top.pos;
    const end = start + size;
    if (end > bytes.length) throw new WasmParseError(`section ${id} runs past the end of the module`);
    const r = new Reader(bytes, end);
    r.pos = start;
    switch (id) {
      case 1: {
        // type
        const n = r.u32();
        for (let i = 0; i < n; i++) {
          const form = r.byte();
          if (form !== 0x60) throw new WasmParseError(`unsupported type form 0x${form.toString(16)}`);
          const params: ValType[] = [];
          for (let p = r.u32(); p > 0; p--) params.push(valType(r.byte()));
          const results: ValType[] = [];
          for (let q = r.u32(); q > 0; q--) results.push(valType(r.byte()));
          types.push({ params, results });
        }
        break;
      }
      case 2: {
        // import
        const n = r.u32();
        for (let i = 0; i < n; i++) {
          const module = r.name();
          const name = r.name();
          const kindByte = r.byte();
          const kind = KINDS[kindByte];
          if (!kind) throw new WasmParseError(`unknown import kind ${kindByte}`);
          const entry: ImportEntry = { module, name, kind };
          if (kindByte === 0) {
            const t = r.u32();
            const sig = types[t];
            if (!sig) throw new WasmParseError(`import ${module}.${name} uses unknown type ${t}`);
            entry.sig = sig;
            funcTypes.push(t);
          } else if (kindByte === 1) {
            r.byte();
            r.limits();
          } else if (kindByte === 2) {
            r.limits();
          } else if (kindByte === 3) {
            r.byte();
            r.byte();
          } else {
            r.byte();
            r.u32();
          }
          imports.push(entry);
        }
        break;
      }
      case 3: {
        // function
        for (let n = r.u32(); n > 0; n--) funcTypes.push(r.u32());
        break;
      }
      case 7: {
        // export
        const n = r.u32();
        for (let i = 0; i < n; i++) {
          const name = r.name();
          const kindByte = r.byte();
          const kind = KINDS[kindByte];
          if (!kind) throw new WasmParseError(`unknown export kind ${kindByte}`);
          rawExports.push({ name, kind, index: r.u32() });
        }
        break;
      }
      case 8:
        hasStartSection = true;
        break;
      default:
        break;
    }
    top.pos = end;
  }

  const exports: ExportEntry[] = rawExports.map(({ name, kind, index }) => {
    if (kind !== 'function') return { name, kind };
    const t = funcTypes[index];
    const sig = t === undefined ? undefined : types[t];
    if (!sig) throw new WasmParseError(`export ${name} refers to unknown function ${index}`);
    return { name, kind, sig };
  });
  return { imports, exports, hasStartSection };
}

/** Envoy's spelling of a signature: "i32 i32 -> i32", "void" for an empty list (cpp-host printValTypes). */
export function formatSig(sig: FuncSig): string {
  const list = (v: ValType[]) => (v.length === 0 ? 'void' : v.join(' '));
  return `${list(sig.params)} -> ${list(sig.results)}`;
}

export function sameSig(a: FuncSig, b: FuncSig): boolean {
  if (a.params.length !== b.params.length || a.results.length !== b.results.length) return false;
  for (let i = 0; i < a.params.length; i++) if (a.params[i] !== b.params[i]) return false;
  for (let i = 0; i < a.results.length; i++) if (a.results[i] !== b.results[i]) return false;
  return true;
}
