// Runs the render/validate commands the two ways users meet them: in-process (the command class,
// so coverage sees cli/ and renderers/) and as a real `node bin/run.js` subprocess (needs dist/,
// i.e. `npm run build`, which `npm test` runs first).
import {spawnSync} from 'node:child_process'
import {existsSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'

import Render from '../../cli/commands/render.js'
import Validate from '../../cli/commands/validate.js'

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..')

export interface RunResult {
  code: number
  stdout: string
  stderr: string
}

const COMMANDS = {render: Render, validate: Validate}

/**
 * The environment a user's shell would give: without the caller's MESHWASM_* variables, and
 * without tap's NODE_OPTIONS/_TAPJS_* (subprocesses run dist/ as shipped; coverage comes from the
 * in-process runs of the sources), plus `extra`.
 */
export function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {}
  for (const [key, value] of Object.entries(process.env)) {
    if (value === undefined || key.startsWith('MESHWASM_') || key.startsWith('_TAPJS_') || key === 'NODE_OPTIONS' || key === 'NODE_V8_COVERAGE') continue
    env[key] = value
  }
  return {...env, ...extra}
}

export async function runCommand(command: keyof typeof COMMANDS, argv: string[], env: Record<string, string> = {}): Promise<RunResult> {
  const saved = process.env
  process.env = cleanEnv(env)
  const out: string[] = []
  const err: string[] = []
  const writeOut = process.stdout.write
  const writeErr = process.stderr.write
  process.stdout.write = ((chunk: string | Uint8Array) => out.push(String(chunk)) > 0) as typeof process.stdout.write
  process.stderr.write = ((chunk: string | Uint8Array) => err.push(String(chunk)) > 0) as typeof process.stderr.write
  let code = 0
  try {
    await COMMANDS[command].run(argv, ROOT)
  } catch (error) {
    const e = error as {oclif?: {exit?: number}; message?: string; code?: string}
    code = e.oclif?.exit ?? 1
    // oclif prints parse errors in bin/run.js's handler; in-process we get them thrown.
    if (e.code !== 'EEXIT' && e.message) err.push(`${e.message}\n`)
  } finally {
    process.stdout.write = writeOut
    process.stderr.write = writeErr
    process.env = saved
    // oclif's Command.catch sets process.exitCode for the failure we provoked on purpose.
    process.exitCode = 0
  }
  return {code, stdout: out.join(''), stderr: err.join('')}
}

export function runCli(args: string[], options: {env?: Record<string, string>; input?: string} = {}): RunResult {
  if (!existsSync(join(ROOT, 'dist', 'cli', 'commands', 'render.js'))) {
    throw new Error('dist/ is missing: run `npm run build` (npm test does) before the CLI subprocess tests')
  }
  const result = spawnSync(process.execPath, [join(ROOT, 'bin', 'run.js'), ...args], {
    cwd: ROOT,
    env: cleanEnv(options.env),
    input: options.input ?? '',
    encoding: 'utf8',
  })
  return {code: result.status ?? -1, stdout: result.stdout, stderr: result.stderr}
}
