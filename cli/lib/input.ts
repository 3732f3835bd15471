import { readFile } from 'node:fs/promises';

import { UsageError } from '../../renderers/errors.js';

/** Reads FILE, or stdin for "-"; errors name the flag or argument it came from. */
export async function readInput(path: string, what: string): Promise<{ name: string; text: string }> {
  if (path === '-') {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return { name: 'stdin', text: Buffer.concat(chunks).toString('utf8') };
  }
  try {
    return { name: path, text: await readFile(path, 'utf8') };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason =
      code === 'ENOENT'
        ? 'does not exist'
        : code === 'EISDIR'
          ? 'is a directory'
          : `cannot be read (${code})`;
    throw new UsageError(`${what}: ${path} ${reason}; give a readable file, or - for stdin`);
  }
}
