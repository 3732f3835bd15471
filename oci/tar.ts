/**
 * A deterministic ustar writer and a small reader. The writer fixes every field that tools
 * normally fill from the file system (mtime, uid/gid, owner names, mode) so the same input
 * bytes always give the same archive bytes, which is what makes image digests reproducible.
 * The reader is what read-back verification uses to find plugin.wasm in a layer.
 */

export interface TarEntry {
  /** Path inside the archive, `/`-separated, no leading `/`. Directories may end in `/`. */
  name: string;
  type: 'file' | 'directory';
  data?: Uint8Array;
}

export interface TarReadEntry {
  name: string;
  type: 'file' | 'directory' | 'other';
  data: Buffer;
}

const BLOCK = 512;
/** Fixed metadata: root-owned, world-readable, epoch mtime (matches `FROM scratch` + `COPY` with SOURCE_DATE_EPOCH=0). */
const FILE_MODE = 0o644;
const DIR_MODE = 0o755;
const MTIME = 0;

function writeString(header: Buffer, offset: number, length: number, value: string): void {
  const bytes = Buffer.from(value, 'utf8');
  if (bytes.length > length) throw new Error(`tar: "${value}" does not fit in a ${length}-byte field`);
  bytes.copy(header, offset);
}

/** Octal, zero-padded, NUL-terminated: the classic ustar numeric form every reader accepts. */
function writeOctal(header: Buffer, offset: number, length: number, value: number): void {
  const digits = value.toString(8).padStart(length - 1, '0');
  if (digits.length > length - 1) throw new Error(`tar: ${value} does not fit in a ${length}-byte field`);
  writeString(header, offset, length, `${digits}\0`);
}

/** Splits long names into ustar's prefix (155) + name (100) at a `/`. */
function splitName(name: string): { prefix: string; name: string } {
  if (Buffer.byteLength(name) <= 100) return { prefix: '', name };
  for (let i = name.lastIndexOf('/'); i > 0; i = name.lastIndexOf('/', i - 1)) {
    const prefix = name.slice(0, i);
    const rest = name.slice(i + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(rest) <= 100) return { prefix, name: rest };
  }
  throw new Error(`tar: path "${name}" is too long for ustar`);
}

function header(entry: TarEntry, size: number): Buffer {
  const h = Buffer.alloc(BLOCK);
  const { prefix, name } = splitName(
    entry.type === 'directory' && !entry.name.endsWith('/') ? `${entry.name}/` : entry.name,
  );
  writeString(h, 0, 100, name);
  writeOctal(h, 100, 8, entry.type === 'directory' ? DIR_MODE : FILE_MODE);
  writeOctal(h, 108, 8, 0); // uid
  writeOctal(h, 116, 8, 0); // gid
  writeOctal(h, 124, 12, size);
  writeOctal(h, 136, 12, MTIME);
  h.fill(0x20, 148, 156); // checksum is computed with its own field as spaces
  h[156] = entry.type === 'directory' ? 0x35 : 0x30;
  writeString(h, 257, 6, 'ustar\0');
  writeString(h, 263, 2, '00');
  writeOctal(h, 329, 8, 0); // devmajor
  writeOctal(h, 337, 8, 0); // devminor
  writeString(h, 345, 155, prefix);
  let sum = 0;
  for (const byte of h) sum += byte;
  writeString(h, 148, 8, `${sum.toString(8).padStart(6, '0')}\0 `);
  return h;
}

/** Entries are written in the order given; callers pass a fixed order. */
export function writeTar(entries: TarEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const entry of entries) {
    const data = entry.type === 'file' ? Buffer.from(entry.data ?? new Uint8Array()) : Buffer.alloc(0);
    parts.push(header(entry, data.length), data);
    const pad = (BLOCK - (data.length % BLOCK)) % BLOCK;
    if (pad) parts.push(Buffer.alloc(pad));
  }
  parts.push(Buffer.alloc(BLOCK * 2)); // end-of-archive marker
  return Buffer.concat(parts);
}

function readString(block: Buffer, offset: number, length: number): string {
  const field = block.subarray(offset, offset + length);
  const end = field.indexOf(0);
  return field.subarray(0, end < 0 ? length : end).toString('utf8');
}

function readNumber(block: Buffer, offset: number, length: number): number {
  const field = block.subarray(offset, offset + length);
  if (field[0] & 0x80) {
    // GNU base-256 form for values that do not fit in octal.
    let value = field[0] & 0x7f;
    for (let i = 1; i < length; i++) value = value * 256 + field[i];
    return value;
  }
  const text = readString(block, offset, length).trim();
  return text === '' ? 0 : parseInt(text, 8);
}

function parsePax(data: Buffer): Record<string, string> {
  const records: Record<string, string> = {};
  let pos = 0;
  while (pos < data.length) {
    const space = data.indexOf(0x20, pos);
    if (space < 0) break;
    const len = parseInt(data.subarray(pos, space).toString('ascii'), 10);
    if (!(len > 0)) break;
    const record = data.subarray(space + 1, pos + len - 1).toString('utf8');
    const eq = record.indexOf('=');
    if (eq > 0) records[record.slice(0, eq)] = record.slice(eq + 1);
    pos += len;
  }
  return records;
}

/** Reads ustar, pax (`path`, `size`) and GNU long-name archives; throws on truncation or a bad checksum. */
export function readTar(archive: Uint8Array): TarReadEntry[] {
  const buf = Buffer.from(archive.buffer, archive.byteOffset, archive.byteLength);
  const entries: TarReadEntry[] = [];
  let pos = 0;
  let pax: Record<string, string> = {};
  let longName: string | undefined;
  while (pos + BLOCK <= buf.length) {
    const block = buf.subarray(pos, pos + BLOCK);
    if (block.every((b) => b === 0)) return entries;
    let sum = 0;
    for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : block[i];
    if (sum !== readNumber(block, 148, 8)) throw new Error(`tar: header checksum mismatch at offset ${pos}`);

    const typeflag = String.fromCharCode(block[156] || 0x30);
    let size = readNumber(block, 124, 12);
    if (pax.size !== undefined) size = Number(pax.size);
    const dataStart = pos + BLOCK;
    if (dataStart + size > buf.length) throw new Error(`tar: archive is truncated (entry at offset ${pos})`);
    const data = buf.subarray(dataStart, dataStart + size);
    pos = dataStart + Math.ceil(size / BLOCK) * BLOCK;

    if (typeflag === 'x') {
      pax = parsePax(data);
      continue;
    }
    if (typeflag === 'g') continue;
    if (typeflag === 'L') {
      longName = readString(data, 0, data.length);
      continue;
    }
    const magic = readString(block, 257, 6);
    const prefix = magic === 'ustar' ? readString(block, 345, 155) : '';
    const shortName = readString(block, 0, 100);
    const name = pax.path ?? longName ?? (prefix ? `${prefix}/${shortName}` : shortName);
    entries.push({
      name,
      type: typeflag === '0' || typeflag === '7' ? 'file' : typeflag === '5' ? 'directory' : 'other',
      data,
    });
    pax = {};
    longName = undefined;
  }
  if (pos < buf.length) throw new Error('tar: archive is truncated (partial header block)');
  // A missing end-of-archive marker is tolerated (Go's archive/tar does too).
  return entries;
}
