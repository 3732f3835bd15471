import { readFile } from 'node:fs/promises';
import { UsageError } from '../../renderers/errors.js';
import { checkFilterConfig } from '../../renderers/filter-schema.js';
import { buildModel } from '../../renderers/model.js';
import { packagePath } from '../../renderers/package-root.js';
import { resolveValues } from '../../renderers/values.js';
import { DEFAULT_CALLOUT, parseClusters, parseListen, parseServiceUrl, redactUrl } from './dev-options.js';
import { TrafficLog } from './dev-traffic.js';
import { readInput } from './input.js';

/**
 * What `meshwasm dev` does once its argv is parsed: the filter configuration from the values model
 * (the same settings, env vars and values file as `render`, so `dev` runs what `render` deploys),
 * the callout cluster render names mapped to a local URL, then one engine — the Node host's gateway
 * (default, needs nothing) or real Envoy (envoy/) — listening in front of the upstream, with the
 * access log and the filter's log lines on stderr and a summary when it stops.
 */

export const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'critical'] as const;
export type Level = (typeof LEVELS)[number];

export interface DevRequest {
  engine: 'node' | 'envoy';
  wasm?: string;
  listen: string;
  upstream: string;
  clusters: readonly string[];
  /** Render settings given on the command line (by values key), and -f. */
  given: Record<string, unknown>;
  values?: string;
  /** A raw plugin configuration instead of the values model (for modules that are not meshwasm). */
  config?: string;
  configFile?: string;
  logLevel: Level;
  /** --guest-timeout: node engine only (Envoy has no such limit). */
  guestTimeoutMs?: number;
  env?: Record<string, string | undefined>;
  write?: (line: string) => void;
}

export interface DevSession {
  url: string;
  engine: 'node' | 'envoy';
  /** The plugin configuration the engine runs. */
  pluginConfig: string;
  clusters: Record<string, string>;
  traffic: TrafficLog;
  /** Drains (callouts still answering get their access-log line), stops, prints the summary. */
  stop(): Promise<void>;
}

async function pluginConfiguration(
  request: DevRequest,
): Promise<{ json: string; cluster?: string; failOpen: boolean }> {
  if (request.config !== undefined || request.configFile !== undefined) {
    const from = request.configFile !== undefined ? '--config-file' : '--config';
    const text =
      request.configFile !== undefined ? (await readInput(request.configFile, from)).text : request.config!;
    let config: unknown;
    try {
      config = JSON.parse(text);
    } catch (error) {
      throw new UsageError(
        `${from}: not valid JSON (${(error as Error).message.split('\n')[0]}); give one JSON object (a values file goes to -f)`,
      );
    }
    const problem = checkFilterConfig(config)[0];
    if (problem)
      throw new UsageError(`${from}: ${problem.property ? `${problem.property}: ` : ''}${problem.message}`);
    const cluster = (config as { cluster?: unknown }).cluster;
    return { json: text, cluster: typeof cluster === 'string' ? cluster : undefined, failOpen: false };
  }
  let file: { name: string; data: unknown } | undefined;
  if (request.values !== undefined) {
    const input = await readInput(request.values, '--values');
    const { parse } = await import('yaml');
    try {
      file = {
        name: input.name,
        data: parse(input.text, { strict: true, uniqueKeys: true, maxAliasCount: 0 }),
      };
    } catch (error) {
      throw new UsageError(
        `--values: ${input.name} is not valid YAML (${(error as Error).message.split('\n')[0]}); fix the file or see render --print-values`,
      );
    }
  }
  const model = buildModel(resolveValues({ flags: request.given, env: request.env ?? process.env, file }));
  return { json: model.filterConfigJson, cluster: model.callout.name, failOpen: model.values.failOpen };
}

/** dev's guest watchdog unless --guest-timeout says otherwise: no callback of a working filter comes near it. */
export const DEFAULT_GUEST_TIMEOUT_MS = 2000;

export async function startDev(request: DevRequest): Promise<DevSession> {
  const write = request.write ?? ((line: string) => process.stderr.write(`${line}\n`));
  if (request.engine === 'envoy' && request.guestTimeoutMs !== undefined)
    throw new UsageError(
      '--guest-timeout: Envoy has no guest watchdog; use it with --engine node, or drop it',
    );
  const listen = parseListen(request.listen);
  const upstream = parseServiceUrl(request.upstream, '--upstream', 'http://127.0.0.1:8442').origin;
  const given = parseClusters(request.clusters);
  const wasmPath = request.wasm ?? packagePath('filter', 'build', 'plugin.wasm');
  const wasm = await readFile(wasmPath).catch(() => {
    throw new UsageError(
      `--wasm: ${wasmPath} cannot be read; build the filter with \`meshwasm build\` or pass --wasm FILE`,
    );
  });
  const config = await pluginConfiguration(request);
  // The configured callout cluster goes to back-python's local port unless --cluster says otherwise.
  const clusters = { ...(config.cluster ? { [config.cluster]: DEFAULT_CALLOUT } : {}), ...given };

  const traffic = new TrafficLog(write);
  const recorders = await Promise.all(Object.values(clusters).map((url) => traffic.recorder(url)));
  const routed = Object.fromEntries(Object.keys(clusters).map((name, i) => [name, recorders[i]!.url]));
  const closeRecorders = () => Promise.all(recorders.map((r) => r.close()));
  const minLevel = LEVELS.indexOf(request.logLevel);
  const filterLog = (level: string, message: string) => {
    const index = LEVELS.indexOf((level === 'warning' ? 'warn' : level) as Level);
    if (index >= minLevel) write(`[${LEVELS[index] ?? level}] ${message}`);
  };

  let engine: { url: string; stop(): Promise<void> };
  try {
    engine =
      request.engine === 'envoy'
        ? await startEnvoyEngine({
            wasmPath,
            config,
            listen,
            upstream,
            clusters: routed,
            traffic,
            filterLog,
            write,
          })
        : await startNodeEngine({
            wasm,
            wasmPath,
            config,
            listen,
            upstream,
            clusters: routed,
            traffic,
            filterLog,
            guestTimeoutMs: request.guestTimeoutMs,
          });
  } catch (error) {
    await closeRecorders();
    throw error;
  }
  write(
    `meshwasm dev (${request.engine}): ${engine.url} -> ${redactUrl(upstream)}; ${Object.entries(clusters)
      .map(([name, url]) => `${name} -> ${url}`)
      .join(', ')}`,
  );
  let stopping: Promise<void> | undefined;
  return {
    url: engine.url,
    engine: request.engine,
    pluginConfig: config.json,
    clusters,
    traffic,
    stop: () =>
      (stopping ??= (async () => {
        await traffic.drain();
        await engine.stop();
        await closeRecorders();
        write(traffic.summary());
      })()),
  };
}

interface EngineArgs {
  wasmPath: string;
  config: { json: string; failOpen: boolean };
  listen: { host: string; port: number };
  upstream: string;
  clusters: Record<string, string>;
  traffic: TrafficLog;
  filterLog: (level: string, message: string) => void;
}

async function startNodeEngine(args: EngineArgs & { wasm: Buffer; guestTimeoutMs?: number }) {
  const { HostLoadError, startGateway } = await import('../../host/index.js');
  const levels = ['trace', 'debug', 'info', 'warn', 'error', 'critical'];
  try {
    const gateway = await startGateway({
      host: {
        wasm: args.wasm,
        rootId: 'meshwasm',
        pluginConfig: args.config.json,
        clusters: args.clusters,
        failOpen: args.config.failOpen,
        trace: false,
        // A looping guest blocks the event loop: node:vm's watchdog fails the VM after the guest
        // timeout, and a Ctrl-C that came meanwhile is handled then. Not breakOnSigint: node:vm
        // detaches every SIGINT listener around each watched call, and a SIGINT that arrives while
        // guest calls run (under traffic) was dropped, so dev ignored the Ctrl-C.
        guestWatchdog: { timeoutMs: args.guestTimeoutMs ?? DEFAULT_GUEST_TIMEOUT_MS },
        logSink: (e) =>
          args.filterLog(levels[e.level]!, `${e.source === 'host' ? 'host: ' : ''}${e.message}`),
      },
      upstream: args.upstream,
      listen: args.listen,
      onExchange: (e) => args.traffic.requestDone(e),
    });
    return { url: gateway.url, stop: () => gateway.close() };
  } catch (error) {
    if (error instanceof HostLoadError) throw new UsageError(`${args.wasmPath}: ${error.message}`);
    if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') throw listenInUse(args.listen);
    throw error;
  }
}

function listenInUse(listen: { host: string; port: number }) {
  return new UsageError(
    `--listen: ${listen.host}:${listen.port} is already in use; pick another port or --listen ${listen.host}:0`,
  );
}

/** Envoy's access-log line, parsed back into the same record the Node engine gives. */
const ACCESS_FORMAT =
  'meshwasm-access %REQ(:METHOD)% %START_TIME(%s)% %RESPONSE_CODE% %DURATION% %REQ(X-REQUEST-ID)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%\n';
const ACCESS_LINE = /^meshwasm-access (\S+) \S+ (\d+) (\d+) (\S+) (.*)$/;
const WASM_LINE = /^\[(\w+)\]\[wasm\] (?:wasm log [^:]*: )?(.*)$/;

async function startEnvoyEngine(args: EngineArgs & { write: (line: string) => void }) {
  const { EnvoyStartError, INSTALL_ENVOY_HINT, findEnvoy, startEnvoy } = await import('../../envoy/index.js');
  const envoyPath = findEnvoy();
  if (!envoyPath)
    throw new UsageError(`--engine envoy: no Envoy found; ${INSTALL_ENVOY_HINT}, or use --engine node`);
  // Until Envoy is up, only the module's own log lines are shown: if it does not come up, the
  // error says why in one line instead of Envoy's whole account of it.
  let ready = false;
  try {
    const envoy = await startEnvoy({
      envoyPath,
      bootstrap: {
        listen: args.listen,
        upstream: args.upstream,
        clusters: args.clusters,
        wasm: { wasmPath: args.wasmPath, pluginConfig: args.config.json, failOpen: args.config.failOpen },
        accessLog: { format: ACCESS_FORMAT },
      },
      componentLogLevel: 'wasm:trace',
      logLevel: 'error',
      // One access-log line per request as it happens, not Envoy's 10 s batches.
      logFlushIntervalMs: 50,
      onLog: (line) => {
        const access = ACCESS_LINE.exec(line);
        if (access) {
          args.traffic.requestDone({
            method: access[1]!,
            status: Number(access[2]),
            durationMs: Number(access[3]),
            requestId: access[4] === '-' ? '' : access[4]!,
            path: access[5]!,
          });
          return;
        }
        if (!ready && !/^\[\w+\]\[wasm\] wasm log /.test(line)) return;
        const wasm = WASM_LINE.exec(line);
        if (wasm) args.filterLog(wasm[1]!, wasm[2]!);
        else args.write(`envoy: ${line}`);
      },
    });
    ready = true;
    return { url: envoy.url, stop: () => envoy.stop() };
  } catch (error) {
    if (!(error instanceof EnvoyStartError)) throw error;
    const log = error.log.join('\n');
    if (/cannot bind|Address already in use/i.test(log)) throw listenInUse(args.listen);
    const reason =
      error.log.find((l) => /\[critical\]\[wasm\] wasm log/.test(l)) ?? error.log.at(-1) ?? error.message;
    throw new UsageError(`--engine envoy: Envoy did not start: ${reason.replace(WASM_LINE, '$2')}`);
  }
}
