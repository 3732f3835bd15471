import { open } from 'node:fs/promises';

import { UsageError } from '../../renderers/errors.js';

/**
 * Reads FILE, or stdin for "-", as UTF-8 text, for a flag or argument (`what`) that errors name.
 * Input is capped (MAX_INPUT_BYTES): a values file or a manifest bundle is kilobytes, and the API
 * server refuses requests over 3 MiB anyway, so more is a mistake (a wrong file, an endless pipe)
 * that should fail at once instead of filling memory. Invalid UTF-8 is an error, not U+FFFD.
 */
export const MAX_INPUT_BYTES = 8 * 1024 * 1024;

const TOO_LARGE = (name: string, what: string) =>
  new UsageError(
    `${what}: ${name} is larger than ${MAX_INPUT_BYTES / 1024 / 1024} MiB; meshwasm reads values files and manifests up to that size`,
  );

async function readCapped(chunks: AsyncIterable<Buffer>, name: string, what: string): Promise<Buffer> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const chunk of chunks) {
    size += chunk.length;
    if (size > MAX_INPUT_BYTES) throw TOO_LARGE(name, what);
    parts.push(chunk);
  }
  return Buffer.concat(parts);
}

function decode(bytes: Buffer, name: string, what: string): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    // Say where: the first U+FFFD of a lenient decode that is not a U+FFFD written in the file.
    const lenient = bytes.toString('utf8');
    let offset = 0;
    let index = 0;
    for (const char of lenient) {
      if (char === '\uFFFD' && !bytes.subarray(offset, offset + 3).equals(REPLACEMENT)) break;
      offset += Buffer.byteLength(char);
      index += char.length;
    }
    const before = lenient.slice(0, index);
    const line = before.split('\n').length;
    const column = index - before.lastIndexOf('\n');
    throw new UsageError(
      `${what}: ${name}:${line}:${column} is not UTF-8 text (byte 0x${bytes[offset].toString(16).padStart(2, '0')}); save the file as UTF-8`,
    );
  }
}

const REPLACEMENT = Buffer.from('\uFFFD', 'utf8');

export async function readInput(path: string, what: string): Promise<{ name: string; text: string }> {
  if (path === '-') {
    const bytes = await readCapped(process.stdin as AsyncIterable<Buffer>, 'stdin', what);
    return { name: 'stdin', text: decode(bytes, 'stdin', what) };
  }
  let bytes: Buffer;
  try {
    const handle = await open(path, 'r');
    try {
      const stat = await handle.stat();
      if (stat.isDirectory()) throw Object.assign(new Error('directory'), { code: 'EISDIR' });
      // A regular file's size is known up front; a FIFO or /dev/zero is read up to the cap.
      if (stat.isFile() && stat.size > MAX_INPUT_BYTES) throw TOO_LARGE(path, what);
      bytes = await readCapped(handle.createReadStream({ autoClose: false }), path, what);
    } finally {
      await handle.close();
    }
  } catch (error) {
    if (error instanceof UsageError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    const reason =
      code === 'ENOENT'
        ? 'does not exist'
        : code === 'EISDIR'
          ? 'is a directory'
          : `cannot be read (${code})`;
    throw new UsageError(`${what}: ${path} ${reason}; give a readable file, or - for stdin`);
  }
  return { name: path, text: decode(bytes, path, what) };
}
