// What bench/envoy.mjs (wall clock) and bench/envoy-callgrind.mjs (instruction counts) share: the
// variants that all do the same job (per client request, one GET /jump to back-python with the
// request's x-request-id), their Envoy bootstraps, the upstream Envoy that answers for the app and
// for back-python, starting and stopping Envoys, and the check that each variant does the job.

import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { request } from 'node:http';
import { homedir, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { clusterFor, wasmHttpFilter } from '../../dist/envoy/index.js';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const CACHE =
  process.env.MESHWASM_CACHE || join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'meshwasm');
export const BACK_PYTHON = 'outbound|8444||back-python.jump-app-dev.svc.cluster.local';
const BACK_PYTHON_HOST = 'back-python.jump-app-dev.svc.cluster.local';

export function flag(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
}

// --plugin FILE measures another build of the filter (e.g. an earlier commit's) in its place.
const MESHWASM_WASM = resolve(flag('plugin', join(ROOT, 'filter', 'build', 'plugin.wasm')));

export function fail(message) {
  console.error(`${process.argv[1]?.split('/').pop()}: ${message}`);
  process.exit(2);
}

// ---- components --------------------------------------------------------------------------------
function component(name) {
  const override = process.env[`MESHWASM_${name.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`];
  if (override) return existsSync(override) ? override : undefined;
  const link = join(CACHE, 'bin', name);
  return existsSync(link) ? realpathSync(link) : undefined;
}

/** A component's path, building it first with scripts/components.sh when it is missing. */
export function componentOnDemand(name) {
  const found = component(name);
  if (found) return found;
  console.error(`building ${name} (scripts/components.sh ${name})`);
  spawnSync('bash', [join(ROOT, 'scripts', 'components.sh'), name], {
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, MESHWASM_CACHE: CACHE },
  });
  return component(name);
}

/** The Envoy binary and its version, or the process ends with how to install it. */
export function envoyBinary() {
  const envoy = componentOnDemand('envoy') ?? fail('Envoy is missing: run scripts/components.sh envoy');
  const info = spawnSync(envoy, ['--version'], { encoding: 'utf8' }).stdout.trim().split('\n').pop();
  return { envoy, version: /\/(\d+\.\d+\.\d+)\//.exec(info)?.[1] ?? '?' };
}

// ---- ports and requests ------------------------------------------------------------------------
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

export function httpGet(port, path, headers = {}, agent = false) {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers, agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.setTimeout(30000, () => req.destroy(new Error(`GET ${path} on ${port} timed out`)));
    req.end();
  });
}
function accepts(port) {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => resolve(true) || socket.destroy());
    socket.once('error', () => resolve(false));
  });
}
export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// ---- Envoy processes ---------------------------------------------------------------------------
const work = mkdtempSync(join(tmpdir(), 'meshwasm-bench-envoy-'));
const children = new Set();
process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL');
  if (!process.env.BENCH_KEEP) rmSync(work, { recursive: true, force: true });
});
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => process.exit(130));

/** A file in this run's scratch folder (removed at exit unless BENCH_KEEP is set). */
export const workFile = (name) => join(work, name);

/**
 * The command prefix that keeps a process on one CPU (taskset), or nothing on a machine with fewer
 * than two CPUs or without taskset. The wall-clock benchmark gives the Envoy under test a core of
 * its own and puts everything else (the load generator, the upstreams, this script) on the other.
 */
export function pinTo(cpu) {
  const cpus = Number(spawnSync('nproc', { encoding: 'utf8' }).stdout.trim()) || 1;
  if (cpus < 2 || spawnSync('sh', ['-c', 'command -v taskset']).status !== 0) return [];
  return ['taskset', '-c', String(cpu)];
}

/**
 * Starts Envoy (--concurrency 1) on a bootstrap; resolves once /ready answers 200 and the listeners
 * accept, with the time /ready took. `wrap` runs Envoy under another command (taskset, valgrind);
 * `slow` (valgrind) allows minutes to start.
 */
export async function startEnvoy(
  envoy,
  name,
  bootstrap,
  adminPort,
  listenerPorts,
  { wrap = [], slow = false } = {},
) {
  const config = workFile(`${name}.json`);
  writeFileSync(config, JSON.stringify(bootstrap));
  const log = workFile(`${name}.log`);
  const started = process.hrtime.bigint();
  const args = [
    '-c',
    config,
    '--concurrency',
    '1',
    '--disable-hot-restart',
    '-l',
    'warning',
    '--log-path',
    log,
  ];
  const child = wrap.length
    ? spawn(wrap[0], [...wrap.slice(1), envoy, ...args], { stdio: 'ignore' })
    : spawn(envoy, args, { stdio: 'ignore' });
  children.add(child);
  let exited = false;
  child.on('exit', () => (exited = true));
  const deadline = Date.now() + (slow ? 600_000 : 30_000);
  while (!exited && Date.now() < deadline) {
    const ready = await httpGet(adminPort, '/ready').catch(() => undefined);
    if (ready?.status === 200) {
      const readyMs = Number(process.hrtime.bigint() - started) / 1e6;
      // /ready answers before the worker has bound the listeners.
      for (const port of listenerPorts) while (!(await accepts(port))) await sleep(10);
      return { child, pid: child.pid, adminPort, readyMs, log };
    }
    await sleep(slow ? 200 : 10);
  }
  const tail = existsSync(log) ? readFileSync(log, 'utf8').split('\n').slice(-8).join('\n') : '';
  fail(`Envoy for ${name} did not become ready:\n${tail}`);
}

/** Ends an Envoy started by startEnvoy and waits for it to exit. */
export function stopEnvoy(running) {
  return new Promise((resolve) => {
    if (running.child.exitCode !== null) return resolve();
    running.child.once('exit', resolve);
    running.child.kill('SIGTERM');
  });
}

// ---- bootstraps --------------------------------------------------------------------------------
const admin = (port) => ({ address: { socket_address: { address: '127.0.0.1', port_value: port } } });
// The product's own Envoy bootstrap pieces (npm run build compiles them to dist/).
const staticCluster = (name, port) => clusterFor(name, `http://127.0.0.1:${port}`);
const hcm = (routeConfig, httpFilters, extra = {}) => ({
  name: 'envoy.filters.network.http_connection_manager',
  typed_config: {
    '@type':
      'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
    stat_prefix: 'bench',
    // wrk sends no x-request-id: Envoy makes one per request, and keeps one a client sent (the check).
    preserve_external_request_id: true,
    route_config: routeConfig,
    http_filters: [
      ...httpFilters,
      {
        name: 'envoy.filters.http.router',
        typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' },
      },
    ],
    ...extra,
  },
});
const listener = (name, port, filter) => ({
  name,
  address: { socket_address: { address: '127.0.0.1', port_value: port } },
  filter_chains: [{ filters: [filter] }],
});

/** A fixed answer for every request. */
const answer = (body) => ({
  virtual_hosts: [
    {
      name: 'all',
      domains: ['*'],
      routes: [{ match: { prefix: '/' }, direct_response: { status: 200, body: { inline_string: body } } }],
    },
  ],
});

/** back-python: answers every GET /jump; logs the checks' requests (their x-request-id). */
function backPythonBootstrap({ adminPort, backPort, checkLog }) {
  const accessLog = {
    name: 'checks',
    filter: { header_filter: { header: { name: 'x-request-id', string_match: { prefix: 'bench-check-' } } } },
    typed_config: {
      '@type': 'type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog',
      path: checkLog,
      log_format: {
        text_format_source: { inline_string: '%REQ(:METHOD)% %REQ(:PATH)% %REQ(X-REQUEST-ID)%\n' },
      },
    },
  };
  return {
    admin: admin(adminPort),
    static_resources: {
      listeners: [
        listener('back-python', backPort, hcm(answer('jumped\n'), [], { access_log: [accessLog] })),
      ],
    },
  };
}

/**
 * Starts the app and back-python, each its own Envoy answering with direct_response (faster per
 * request than any loopback server in Node, so the Envoy under test stays the bottleneck). Two
 * processes, as two services would be: in one single-worker Envoy every callout, sent before its
 * request reaches the app, would queue ahead of that request and add to its latency.
 */
export async function startUpstream(envoy, wrap = []) {
  const ports = { appPort: await freePort(), backPort: await freePort() };
  const checkLog = workFile('back-python-checks.log');
  const appAdmin = await freePort();
  const app = {
    admin: admin(appAdmin),
    static_resources: { listeners: [listener('app', ports.appPort, hcm(answer('ok\n'), []))] },
  };
  await startEnvoy(envoy, 'app', app, appAdmin, [ports.appPort], { wrap });
  const backAdmin = await freePort();
  await startEnvoy(
    envoy,
    'back-python',
    backPythonBootstrap({ adminPort: backAdmin, backPort: ports.backPort, checkLog }),
    backAdmin,
    [ports.backPort],
  );
  return { ...ports, checkLog };
}

const LUA = `
function envoy_on_request(handle)
  handle:httpCall("${BACK_PYTHON}", {
    [":method"] = "GET", [":path"] = "/jump", [":authority"] = "${BACK_PYTHON_HOST}",
    ["x-request-id"] = handle:headers():get("x-request-id"),
  }, "", 5000, true)
end
`;

/**
 * The variants, in the order they are printed. `wasm` names the module a Wasm variant runs (the Go
 * and Rust peers are components built on demand); `only` keeps just the named ones.
 */
export function variants(only = []) {
  const all = [
    { name: 'none', label: 'no filter (baseline)', filters: [], baseline: true },
    { name: 'mirror', label: 'native request_mirror_policies', filters: [], mirror: true },
    {
      name: 'lua',
      label: 'Lua httpCall async',
      filters: [
        {
          name: 'envoy.filters.http.lua',
          typed_config: {
            '@type': 'type.googleapis.com/envoy.extensions.filters.http.lua.v3.Lua',
            default_source_code: { inline_string: LUA },
          },
        },
      ],
    },
    {
      name: 'meshwasm',
      label: 'meshwasm async',
      wasm: MESHWASM_WASM,
      configuration: JSON.stringify({ cluster: BACK_PYTHON }),
    },
    {
      name: 'meshwasm-blocking',
      label: 'meshwasm blocking',
      wasm: MESHWASM_WASM,
      configuration: JSON.stringify({ cluster: BACK_PYTHON, mode: 'blocking' }),
    },
    { name: 'go', label: 'Go proxy-wasm-go-sdk', component: 'bench-go-filter', configuration: BACK_PYTHON },
    {
      name: 'rust',
      label: 'Rust proxy-wasm crate',
      component: 'bench-rust-filter',
      configuration: BACK_PYTHON,
    },
  ];
  const unknown = only.filter((n) => !all.some((v) => v.name === n));
  if (unknown.length)
    fail(`no variant ${unknown.join(', ')} (variants: ${all.map((v) => v.name).join(', ')})`);
  return all.filter((v) => !only.length || only.includes(v.name));
}

/**
 * The variant's Wasm module (building a peer on demand), with its filter list filled in; false
 * when a peer cannot be built. Variants without a module are returned as they are.
 */
export function resolveModule(variant) {
  if (variant.component) {
    variant.wasm = componentOnDemand(variant.component);
    if (!variant.wasm) {
      console.error(`skipping ${variant.name}: ${variant.component} could not be built (see above)`);
      return false;
    }
  }
  if (variant.wasm) {
    if (!existsSync(variant.wasm)) fail(`${variant.wasm} is missing: run \`npm run build\` first`);
    // The meshwasm variants share the root id meshwasm; the peers take any.
    const rootId = variant.name.startsWith('meshwasm') ? 'meshwasm' : variant.name;
    variant.filters = [
      wasmHttpFilter({ wasmPath: variant.wasm, pluginConfig: variant.configuration, rootId }),
    ];
  }
  return true;
}

/** The Envoy under test for a variant: one listener in front of the app, and back-python's cluster. */
export function proxyBootstrap(variant, { adminPort, port, appPort, backPort }) {
  const route = { cluster: 'app', timeout: '10s' };
  if (variant.mirror) route.request_mirror_policies = [{ cluster: BACK_PYTHON }];
  return {
    admin: admin(adminPort),
    static_resources: {
      listeners: [
        listener(
          'front',
          port,
          hcm(
            { virtual_hosts: [{ name: 'all', domains: ['*'], routes: [{ match: { prefix: '/' }, route }] }] },
            variant.filters,
          ),
        ),
      ],
      clusters: [staticCluster('app', appPort), staticCluster(BACK_PYTHON, backPort)],
    },
  };
}

/** The job is the same in every variant: back-python gets GET /jump with the client's x-request-id. */
export async function checkJob(running, checkLog) {
  const id = `bench-check-${running.name}`;
  const res = await httpGet(running.port, '/jump', { 'x-request-id': id }).catch((error) => ({ error }));
  if (res.status !== 200) {
    const tail = (existsSync(running.log) ? readFileSync(running.log, 'utf8') : '')
      .split('\n')
      .slice(-6)
      .join('\n');
    fail(`${running.name}: the check request got ${res.status ?? res.error.message}\n${tail}`);
  }
  for (let i = 0; i < 3000; i++) {
    const lines = existsSync(checkLog) ? readFileSync(checkLog, 'utf8').split('\n') : [];
    if (lines.includes(`GET /jump ${id}`)) return;
    await sleep(10);
  }
  fail(`${running.name}: back-python never got GET /jump with x-request-id ${id}`);
}

/** One counter or gauge from Envoy's admin /stats. */
export async function stat(running, name) {
  const res = await httpGet(running.adminPort, `/stats?filter=${encodeURIComponent(`^${name}$`)}`);
  const m = new RegExp(`^${name.replace(/\./g, '\\.')}: (\\d+)`, 'm').exec(res.body);
  return m ? Number(m[1]) : undefined;
}

// ---- printing ----------------------------------------------------------------------------------
export const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

/** A Markdown table on stdout. */
export function table(header, rows) {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const line = (cells) => `| ${cells.map((c, i) => String(c).padEnd(widths[i])).join(' | ')} |`;
  console.log(line(header));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const r of rows) console.log(line(r));
  console.log('');
}
