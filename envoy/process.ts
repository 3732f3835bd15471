import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { type BootstrapOptions, writeBootstrap } from './bootstrap.js';
import { findEnvoy, INSTALL_ENVOY_HINT } from './locate.js';

/**
 * Runs one Envoy process on a bootstrap: starts it with hot restart off (several Envoys share the
 * machine), waits until the admin API says /ready, reads back the listener's and admin's ports,
 * reads /stats, and stops it (SIGTERM, then SIGKILL) with nothing left running — also when the
 * Node process exits without stopping it.
 */

export interface EnvoyOptions {
  /** A bootstrap to run as is, or the options to write one (envoy/bootstrap.ts). */
  bootstrap: Record<string, unknown> | BootstrapOptions;
  /** Default: findEnvoy(). */
  envoyPath?: string;
  /** Envoy's --log-level (default warning) and --component-log-level (e.g. 'wasm:info'). */
  logLevel?: string;
  componentLogLevel?: string;
  /** Worker threads (default 1: requests are handled in order, as the tests expect). */
  concurrency?: number;
  /** Every line Envoy writes to stderr (its log, in LOG_FORMAT, and the stderr access log). */
  onLog?: (line: string) => void;
  /** How long to wait for /ready (default 15 s). */
  readyTimeoutMs?: number;
  /**
   * --file-flush-interval-msec: access logs (stderr ones too) are written in batches this far
   * apart (Envoy's default is 10 s; 0 leaves Envoy's default). Set it low to see each line live.
   */
  logFlushIntervalMs?: number;
}

export interface EnvoyInstance {
  /** http://127.0.0.1:PORT of the listener. */
  url: string;
  port: number;
  adminUrl: string;
  pid: number;
  /** Every stat (counters and gauges) by name, from admin /stats. */
  stats(): Promise<Map<string, number>>;
  /** The stderr lines so far. */
  logs(): string[];
  /** Resolves with the first stderr line (past or future) that matches. */
  waitForLog(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** Idempotent. */
  stop(): Promise<void>;
}

export class EnvoyStartError extends Error {
  constructor(
    message: string,
    readonly log: string[],
  ) {
    super(message);
  }
}

/** Envoy's log lines as `[level][component] message`, so callers can pick out the filter's. */
export const LOG_FORMAT = '[%l][%n] %v';

/** Custom metrics a Wasm module defines show up under this stats prefix in Envoy. */
export const WASM_METRIC_PREFIX = 'wasmcustom.';

const running = new Set<ChildProcess>();
let exitHook = false;

function killOnExit(child: ChildProcess) {
  running.add(child);
  child.once('exit', () => running.delete(child));
  if (exitHook) return;
  exitHook = true;
  process.once('exit', () => {
    for (const c of running) c.kill('SIGKILL');
  });
}

function isBootstrapOptions(b: EnvoyOptions['bootstrap']): b is BootstrapOptions {
  return typeof (b as BootstrapOptions).upstream === 'string';
}

export function adminGet(adminUrl: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get(`${adminUrl}${path}`, { agent: false }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

/** Every counter and gauge from `/stats?format=json` (histograms are left out). */
export async function readStats(adminUrl: string): Promise<Map<string, number>> {
  const { status, body } = await adminGet(adminUrl, '/stats?format=json');
  if (status !== 200) throw new Error(`envoy admin /stats answered ${status}`);
  const out = new Map<string, number>();
  for (const s of (JSON.parse(body) as { stats: Array<{ name?: string; value?: number }> }).stats) {
    if (typeof s.name === 'string' && typeof s.value === 'number') out.set(s.name, s.value);
  }
  return out;
}

/** Envoy's /stats with the Wasm prefix taken off: the metric names the module itself defined. */
export function wasmMetrics(stats: Map<string, number>): Map<string, number> {
  const out = new Map<string, number>();
  for (const [name, value] of stats)
    if (name.startsWith(WASM_METRIC_PREFIX)) out.set(name.slice(WASM_METRIC_PREFIX.length), value);
  return out;
}

function envoyOrThrow(path: string | undefined): string {
  const envoy = path ?? findEnvoy();
  if (!envoy) throw new EnvoyStartError(`Envoy not found; ${INSTALL_ENVOY_HINT}`, []);
  return envoy;
}

export async function startEnvoy(options: EnvoyOptions): Promise<EnvoyInstance> {
  const envoy = envoyOrThrow(options.envoyPath);
  const bootstrap = isBootstrapOptions(options.bootstrap)
    ? writeBootstrap(options.bootstrap)
    : options.bootstrap;
  const dir = mkdtempSync(join(tmpdir(), 'meshwasm-envoy-'));
  const config = join(dir, 'bootstrap.json');
  const adminPath = join(dir, 'admin-address');
  writeFileSync(config, JSON.stringify(bootstrap));
  const args = [
    '-c',
    config,
    '--disable-hot-restart',
    '--concurrency',
    String(options.concurrency ?? 1),
    '--log-level',
    options.logLevel ?? 'warning',
    '--log-format',
    LOG_FORMAT,
    '--admin-address-path',
    adminPath,
  ];
  if (options.componentLogLevel) args.push('--component-log-level', options.componentLogLevel);
  if (options.logFlushIntervalMs)
    args.push(
      '--file-flush-interval-msec',
      String(options.logFlushIntervalMs),
      '--file-flush-min-size-kb',
      '0',
    );
  const child = spawn(envoy, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  killOnExit(child);

  const lines: string[] = [];
  const watchers = new Set<{ pattern: RegExp; resolve: (line: string) => void }>();
  createInterface({ input: child.stderr! }).on('line', (line) => {
    lines.push(line);
    options.onLog?.(line);
    for (const w of watchers) {
      if (w.pattern.test(line)) {
        watchers.delete(w);
        w.resolve(line);
      }
    }
  });
  let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const exit = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exited = { code, signal };
      resolve();
    });
    child.once('error', () => resolve());
  });
  const spawnError = new Promise<Error | undefined>((resolve) => {
    child.once('error', resolve);
    child.once('spawn', () => resolve(undefined));
  });

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      if (!exited && child.exitCode === null) {
        child.kill('SIGTERM');
        const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exit;
        clearTimeout(killer);
      }
      rmSync(dir, { recursive: true, force: true });
    })());

  try {
    const error = await spawnError;
    if (error) throw new EnvoyStartError(`cannot run ${envoy}: ${error.message}`, lines);
    const adminUrl = await waitReady(adminPath, () => exited, options.readyTimeoutMs ?? 15_000);
    const port = await listenerPort(adminUrl);
    return {
      url: `http://127.0.0.1:${port}`,
      port,
      adminUrl,
      pid: child.pid!,
      stats: () => readStats(adminUrl),
      logs: () => [...lines],
      waitForLog: (pattern, timeoutMs = 10_000) => {
        const seen = lines.find((l) => pattern.test(l));
        if (seen) return Promise.resolve(seen);
        return new Promise((resolve, reject) => {
          const w = {
            pattern,
            resolve: (line: string) => {
              clearTimeout(timer);
              resolve(line);
            },
          };
          const timer = setTimeout(() => {
            watchers.delete(w);
            reject(new Error(`envoy logged nothing matching ${pattern} within ${timeoutMs} ms`));
          }, timeoutMs);
          watchers.add(w);
        });
      },
      stop,
    };
  } catch (error) {
    await stop();
    // Let the last stderr lines arrive before reporting them.
    await new Promise((r) => setImmediate(r));
    if (error instanceof EnvoyStartError) throw new EnvoyStartError(error.message, lines);
    throw error;
  }
}

async function waitReady(
  adminPath: string,
  exited: () => { code: number | null; signal: NodeJS.Signals | null } | undefined,
  timeoutMs: number,
): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let adminUrl: string | undefined;
  for (;;) {
    const gone = exited();
    if (gone)
      throw new EnvoyStartError(
        `envoy exited before it was ready (${gone.signal ?? `exit code ${gone.code}`})`,
        [],
      );
    if (Date.now() > deadline) throw new EnvoyStartError(`envoy was not ready within ${timeoutMs} ms`, []);
    if (!adminUrl) {
      try {
        const address = readFileSync(adminPath, 'utf8').trim();
        if (address) adminUrl = `http://${address}`;
      } catch {
        // Not written yet.
      }
    }
    if (adminUrl) {
      const ready = await adminGet(adminUrl, '/ready').catch(() => undefined);
      if (ready?.status === 200) return adminUrl;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function listenerPort(adminUrl: string): Promise<number> {
  const { body } = await adminGet(adminUrl, '/listeners?format=json');
  const listeners = JSON.parse(body) as {
    listener_statuses: Array<{ local_address: { socket_address: { port_value: number } } }>;
  };
  return listeners.listener_statuses[0]!.local_address.socket_address.port_value;
}

/**
 * `envoy --mode validate` on a bootstrap: does this build accept the configuration (every typed
 * config known, every field valid)? Resolves with Envoy's verdict and its output.
 */
export function validateBootstrap(
  bootstrap: Record<string, unknown>,
  envoyPath?: string,
): Promise<{ ok: boolean; output: string }> {
  const envoy = envoyOrThrow(envoyPath);
  const dir = mkdtempSync(join(tmpdir(), 'meshwasm-envoy-validate-'));
  const config = join(dir, 'bootstrap.json');
  writeFileSync(config, JSON.stringify(bootstrap));
  return new Promise((resolve) => {
    execFile(
      envoy,
      [
        '--mode',
        'validate',
        '-c',
        config,
        '--disable-hot-restart',
        '--log-level',
        'error',
        '--log-format',
        LOG_FORMAT,
      ],
      { timeout: 30_000 },
      (error, stdout, stderr) => {
        rmSync(dir, { recursive: true, force: true });
        resolve({ ok: !error, output: `${stdout}${stderr}` });
      },
    );
  });
}
