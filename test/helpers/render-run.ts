// Runs the render/validate commands the ways users meet them: in-process (the oclif command
// class, or render's lean entry cli/render-main.ts, so coverage sees cli/ and renderers/) and as a
// real `node bin/run.js` subprocess (needs dist/, i.e. `npm run build`, which `npm test` runs first).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import Apply from '../../cli/commands/apply.js';
import Delete from '../../cli/commands/delete.js';
import Detect from '../../cli/commands/detect.js';
import Render from '../../cli/commands/render.js';
import Status from '../../cli/commands/status.js';
import Validate from '../../cli/commands/validate.js';
import { renderWithoutOclif } from '../../cli/render-main.js';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

const COMMANDS = {
  render: Render,
  validate: Validate,
  apply: Apply,
  detect: Detect,
  status: Status,
  delete: Delete,
};

/**
 * The environment a user's shell would give: without the caller's MESHWASM_* variables, and
 * without tap's NODE_OPTIONS/_TAPJS_* (subprocesses run dist/ as shipped; coverage comes from the
 * in-process runs of the sources), plus `extra`.
 */
export function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (
      value === undefined ||
      key.startsWith('MESHWASM_') ||
      key.startsWith('_TAPJS_') ||
      key === 'NODE_OPTIONS' ||
      key === 'NODE_V8_COVERAGE'
    )
      continue;
    env[key] = value;
  }
  return { ...env, ...extra };
}

/** Runs `body` with a clean environment plus `env`, capturing stdout, stderr and the exit code. */
async function captured(env: Record<string, string>, body: () => Promise<void>): Promise<RunResult> {
  const saved = process.env;
  process.env = cleanEnv(env);
  const out: string[] = [];
  const err: string[] = [];
  const writeOut = process.stdout.write;
  const writeErr = process.stderr.write;
  process.stdout.write = ((chunk: string | Uint8Array) =>
    out.push(String(chunk)) > 0) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string | Uint8Array) =>
    err.push(String(chunk)) > 0) as typeof process.stderr.write;
  process.exitCode = 0;
  let code: number;
  try {
    await body();
    code = Number(process.exitCode ?? 0);
  } catch (error) {
    const e = error as { oclif?: { exit?: number }; message?: string; code?: string };
    code = e.oclif?.exit ?? 1;
    // oclif prints parse errors in bin/run.js's handler; in-process we get them thrown.
    if (e.code !== 'EEXIT' && e.message) err.push(`${e.message}\n`);
  } finally {
    process.stdout.write = writeOut;
    process.stderr.write = writeErr;
    process.env = saved;
    // The failures we provoke on purpose set process.exitCode (oclif's Command.catch, the lean entry).
    process.exitCode = 0;
  }
  return { code, stdout: out.join(''), stderr: err.join('') };
}

export async function runCommand(
  command: keyof typeof COMMANDS,
  argv: string[],
  env: Record<string, string> = {},
): Promise<RunResult> {
  return captured(env, async () => {
    await COMMANDS[command].run(argv, ROOT);
  });
}

/** `render` through the lean entry in-process; handled is false when it left argv to oclif. */
export async function runLean(
  argv: string[],
  env: Record<string, string> = {},
): Promise<RunResult & { handled: boolean }> {
  let handled = false;
  const result = await captured(env, async () => {
    handled = await renderWithoutOclif(argv);
  });
  return { ...result, handled };
}

function assertBuilt(): void {
  if (!existsSync(join(ROOT, 'dist', 'cli', 'commands', 'render.js'))) {
    throw new Error('dist/ is missing: run `npm run build` (npm test does) before the CLI subprocess tests');
  }
}

export function runCli(
  args: string[],
  options: { env?: Record<string, string>; input?: string; node?: string } = {},
): RunResult {
  assertBuilt();
  const result = spawnSync(options.node ?? process.execPath, [join(ROOT, 'bin', 'run.js'), ...args], {
    cwd: ROOT,
    env: cleanEnv(options.env),
    input: options.input ?? '',
    encoding: 'utf8',
  });
  return { code: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

/** runCli without blocking, so a test can run a few CLI processes side by side. */
export function runCliAsync(
  args: string[],
  options: { env?: Record<string, string>; input?: string } = {},
): Promise<RunResult> {
  assertBuilt();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(ROOT, 'bin', 'run.js'), ...args], {
      cwd: ROOT,
      env: cleanEnv(options.env),
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    child.on('error', reject);
    child.on('close', (code) =>
      resolve({
        code: code ?? -1,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      }),
    );
    child.stdin.end(options.input ?? '');
  });
}

/** Maps `items` through `fn` with at most `limit` running at once (the CI machine has 2 cores), in order. */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
