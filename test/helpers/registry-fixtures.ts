import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Command } from '@oclif/core';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const builtFilter = fileURLToPath(new URL('../../filter/build/plugin.wasm', import.meta.url));

/**
 * A module to package: the real filter when it has been built, otherwise the smallest valid
 * module (magic + version) with a custom section so different labels give different bytes.
 */
export function sampleWasm(label = 'meshwasm-test'): Buffer {
  if (label === 'meshwasm-test' && existsSync(builtFilter)) return readFileSync(builtFilter);
  const name = Buffer.from(label);
  const payload = Buffer.concat([Buffer.from([name.length]), name, Buffer.from('payload')]);
  return Buffer.concat([
    Buffer.from([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x00, payload.length]),
    payload,
  ]);
}

export interface CommandRun {
  stdout: string;
  stderr: string;
  error?: Error & { oclif?: { exit?: number } };
  exitCode: number;
}

type CommandClass = { run(argv?: string[], opts?: string): Promise<unknown> } & typeof Command;

/** Runs an oclif command class in-process, capturing stdout/stderr (peer-tools §0: no runCommand). */
export async function runCommand(cmd: CommandClass, argv: string[], stdin?: string): Promise<CommandRun> {
  let stdout = '';
  let stderr = '';
  const write = { out: process.stdout.write, err: process.stderr.write };
  process.stdout.write = ((chunk: string | Uint8Array) => (
    (stdout += chunk.toString()),
    true
  )) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string | Uint8Array) => (
    (stderr += chunk.toString()),
    true
  )) as typeof process.stderr.write;
  const stdinDescriptor = Object.getOwnPropertyDescriptor(process, 'stdin');
  if (stdin !== undefined) {
    const { Readable } = await import('node:stream');
    Object.defineProperty(process, 'stdin', {
      value: Readable.from([Buffer.from(stdin)]),
      configurable: true,
    });
  }
  try {
    await cmd.run(argv, repoRoot);
    return { stdout, stderr, exitCode: 0 };
  } catch (err) {
    const error = err as CommandRun['error'] & Error;
    return { stdout, stderr, error, exitCode: error.oclif?.exit ?? 1 };
  } finally {
    process.stdout.write = write.out;
    process.stderr.write = write.err;
    if (stdinDescriptor) Object.defineProperty(process, 'stdin', stdinDescriptor);
    process.exitCode = 0;
  }
}
