#!/usr/bin/env node
// The callout filter inside real Envoy 1.40 (--concurrency 1: one worker), side by side with what a
// platform team could deploy instead, all doing the same job: per client request, one GET /jump to
// back-python with the request's x-request-id. Variants (each its own Envoy, started once):
//   none            the baseline: no filter
//   mirror          Envoy's request_mirror_policies to back-python (no code: the floor for shadow traffic)
//   lua             Envoy's Lua filter, httpCall(..., asynchronous = true)
//   meshwasm        meshwasm's plugin.wasm, mode async (and meshwasm-blocking: mode blocking)
//   go, rust        proxy-wasm peers written for this benchmark (bench/peers/), async
// Load: wrk from Debian (one thread, fixed connections), a warm-up per variant, then rounds in which
// every variant runs for the same time, in rotated order, so that machine load hits all alike.
// Printed: medians with the spread (min-max) over rounds of req/s, p50, p99, Envoy CPU seconds per
// 10k requests (utime+stime of the Envoy process from /proc) and RSS; ratio tables against the
// baseline and against each peer; module sizes; time to /ready; the Wasm memory of meshwasm's VM
// after 10k and after 200k requests (its meshwasm.vm.memory_bytes gauge).
// The upstream and back-python are a second Envoy answering with direct_response: faster per
// request than any loopback server in Node, so the Envoy under test stays the bottleneck.
//
//   node bench/envoy.mjs [--rounds 3] [--seconds 4] [--connections 16] [--only none,meshwasm,...]
// Needs: npm run build (plugin.wasm), scripts/components.sh envoy, wrk (apt-get install wrk);
// the Go and Rust peers are built on demand (scripts/components.sh bench-go-filter bench-rust-filter).

import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { request } from 'node:http';
import { homedir, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const CACHE =
  process.env.MESHWASM_CACHE || join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'meshwasm');
const BACK_PYTHON = 'outbound|8444||back-python.jump-app-dev.svc.cluster.local';
const BACK_PYTHON_HOST = 'back-python.jump-app-dev.svc.cluster.local';
const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

function flag(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
}
const ROUNDS = Number(flag('rounds', 3));
const SECONDS = Number(flag('seconds', 4));
const CONNECTIONS = Number(flag('connections', 16));
const ONLY = flag('only', '')?.split(',').filter(Boolean);

const fail = (message) => {
  console.error(`bench/envoy.mjs: ${message}`);
  process.exit(2);
};

// ---- components --------------------------------------------------------------------------------
function component(name) {
  const override = process.env[`MESHWASM_${name.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`];
  if (override) return existsSync(override) ? override : undefined;
  const link = join(CACHE, 'bin', name);
  return existsSync(link) ? realpathSync(link) : undefined;
}
function componentOnDemand(name) {
  const found = component(name);
  if (found) return found;
  console.error(`bench/envoy.mjs: building ${name} (scripts/components.sh ${name})`);
  spawnSync('bash', [join(ROOT, 'scripts', 'components.sh'), name], {
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, MESHWASM_CACHE: CACHE },
  });
  return component(name);
}
const envoy = componentOnDemand('envoy') ?? fail('Envoy is missing: run scripts/components.sh envoy');
const wrk = spawnSync('sh', ['-c', 'command -v wrk'], { encoding: 'utf8' }).stdout.trim();
if (!wrk) fail('wrk is missing: apt-get install wrk');
const meshwasmWasm = join(ROOT, 'filter', 'build', 'plugin.wasm');
if (!existsSync(meshwasmWasm)) fail('filter/build/plugin.wasm is missing: run `npm run build` first');

// ---- ports and processes -----------------------------------------------------------------------
function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

const work = mkdtempSync(join(tmpdir(), 'meshwasm-bench-envoy-'));
const children = new Set();
function cleanup() {
  for (const child of children) child.kill('SIGKILL');
  if (!process.env.BENCH_KEEP) rmSync(work, { recursive: true, force: true });
}
process.on('exit', cleanup);
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => process.exit(130));

function httpGet(port, path, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.setTimeout(5000, () => req.destroy(new Error(`GET ${path} on ${port} timed out`)));
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
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Starts Envoy on a bootstrap; resolves once /ready answers 200, with the time that took. */
async function startEnvoy(name, bootstrap, adminPort, listenerPorts) {
  const config = join(work, `${name}.json`);
  writeFileSync(config, JSON.stringify(bootstrap));
  const log = join(work, `${name}.log`);
  const started = process.hrtime.bigint();
  const child = spawn(
    envoy,
    ['-c', config, '--concurrency', '1', '--disable-hot-restart', '-l', 'warning', '--log-path', log],
    { stdio: 'ignore' },
  );
  children.add(child);
  let exited = false;
  child.on('exit', () => (exited = true));
  for (let i = 0; i < 3000 && !exited; i++) {
    const ready = await httpGet(adminPort, '/ready').catch(() => undefined);
    if (ready?.status === 200) {
      const readyMs = Number(process.hrtime.bigint() - started) / 1e6;
      // /ready answers before the worker has bound the listeners.
      for (const port of listenerPorts) while (!(await accepts(port))) await sleep(10);
      return { child, pid: child.pid, adminPort, readyMs, log };
    }
    await sleep(10);
  }
  const tail = existsSync(log) ? readFileSync(log, 'utf8').split('\n').slice(-8).join('\n') : '';
  fail(`Envoy for ${name} did not become ready:\n${tail}`);
}

// ---- bootstraps --------------------------------------------------------------------------------
const admin = (port) => ({ address: { socket_address: { address: '127.0.0.1', port_value: port } } });
const staticCluster = (name, port) => ({
  name,
  type: 'STATIC',
  connect_timeout: '1s',
  load_assignment: {
    cluster_name: name,
    endpoints: [
      {
        lb_endpoints: [
          { endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: port } } } },
        ],
      },
    ],
  },
});
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

/** The upstream and back-python: fixed answers; back-python logs the checks' requests. */
function upstreamBootstrap({ adminPort, appPort, backPort, checkLog }) {
  const answer = (body) => ({
    virtual_hosts: [
      {
        name: 'all',
        domains: ['*'],
        routes: [{ match: { prefix: '/' }, direct_response: { status: 200, body: { inline_string: body } } }],
      },
    ],
  });
  return {
    admin: admin(adminPort),
    static_resources: {
      listeners: [
        listener('app', appPort, hcm(answer('ok\n'), [])),
        listener(
          'back-python',
          backPort,
          hcm(answer('jumped\n'), [], {
            access_log: [
              {
                name: 'checks',
                filter: {
                  header_filter: {
                    header: { name: 'x-request-id', string_match: { prefix: 'bench-check-' } },
                  },
                },
                typed_config: {
                  '@type': 'type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog',
                  path: checkLog,
                  log_format: {
                    text_format_source: {
                      inline_string: '%REQ(:METHOD)% %REQ(:PATH)% %REQ(X-REQUEST-ID)%\n',
                    },
                  },
                },
              },
            ],
          }),
        ),
      ],
    },
  };
}

const wasmFilter = (name, rootId, file, configuration) => ({
  name: 'envoy.filters.http.wasm',
  typed_config: {
    '@type': 'type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm',
    config: {
      name,
      root_id: rootId,
      configuration: { '@type': 'type.googleapis.com/google.protobuf.StringValue', value: configuration },
      vm_config: { vm_id: name, runtime: 'envoy.wasm.runtime.v8', code: { local: { filename: file } } },
    },
  },
});

const LUA = `
function envoy_on_request(handle)
  handle:httpCall("${BACK_PYTHON}", {
    [":method"] = "GET", [":path"] = "/jump", [":authority"] = "${BACK_PYTHON_HOST}",
    ["x-request-id"] = handle:headers():get("x-request-id"),
  }, "", 5000, true)
end
`;

const VARIANTS = [
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
    wasm: () => meshwasmWasm,
    filters: [wasmFilter('meshwasm', 'meshwasm', meshwasmWasm, JSON.stringify({ cluster: BACK_PYTHON }))],
  },
  {
    name: 'meshwasm-blocking',
    label: 'meshwasm blocking',
    filters: [
      wasmFilter(
        'meshwasm-blocking',
        'meshwasm',
        meshwasmWasm,
        JSON.stringify({ cluster: BACK_PYTHON, mode: 'blocking' }),
      ),
    ],
  },
  { name: 'go', label: 'Go proxy-wasm-go-sdk', component: 'bench-go-filter' },
  { name: 'rust', label: 'Rust proxy-wasm crate', component: 'bench-rust-filter' },
].filter((v) => !ONLY?.length || ONLY.includes(v.name));

function proxyBootstrap(variant, { adminPort, port, appPort, backPort }) {
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

// ---- measuring ---------------------------------------------------------------------------------
function cpuSeconds(pid) {
  // /proc/PID/stat: fields 14 and 15 (utime, stime) after the ")" that ends the command name.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}
function rssMiB(pid) {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) / 1024 : NaN;
}
const UNIT_MS = { us: 1e-3, ms: 1, s: 1000, m: 60000 };
function parseWrk(out) {
  const requests = Number(/(\d+) requests in/.exec(out)?.[1]);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
  const pct = (p) => {
    const m = new RegExp(`^\\s+${p}%\\s+([\\d.]+)(us|ms|s|m)\\s*$`, 'm').exec(out);
    return m ? Number(m[1]) * UNIT_MS[m[2]] : NaN;
  };
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  const errors = /Socket errors: (.*)/.exec(out)?.[1];
  return { requests, rps, p50: pct(50), p99: pct(99), non2xx, errors };
}

/** One wrk run against a variant; Envoy's CPU is read around it. */
function load(running, seconds) {
  const before = cpuSeconds(running.pid);
  const result = spawnSync(
    wrk,
    ['-t1', `-c${CONNECTIONS}`, `-d${seconds}s`, '--latency', `http://127.0.0.1:${running.port}/jump`],
    { encoding: 'utf8' },
  );
  const cpu = cpuSeconds(running.pid) - before;
  if (result.status !== 0) fail(`wrk failed: ${result.stderr}`);
  const run = parseWrk(result.stdout);
  if (run.non2xx > 0 || run.errors)
    fail(`${running.name}: ${run.non2xx} non-2xx answers, socket errors: ${run.errors}`);
  return { ...run, cpuPer10k: (cpu / run.requests) * 1e4 };
}

async function stat(running, name) {
  const res = await httpGet(running.adminPort, `/stats?filter=${encodeURIComponent(`^${name}$`)}`);
  const m = new RegExp(`^${name.replace(/\./g, '\\.')}: (\\d+)`, 'm').exec(res.body);
  return m ? Number(m[1]) : undefined;
}

/** Sends load until meshwasm has seen at least `target` requests; returns its VM memory gauge. */
async function memoryAfter(running, target) {
  for (;;) {
    const served = await stat(running, 'wasmcustom.meshwasm.callouts.started');
    if (served === undefined) fail('meshwasm: Envoy shows no wasmcustom.meshwasm.callouts.started counter');
    if (served >= target) break;
    load(running, Math.min(SECONDS, Math.max(1, Math.ceil((target - served) / 5000))));
  }
  await sleep(200); // the last replies
  return {
    requests: await stat(running, 'wasmcustom.meshwasm.callouts.started'),
    bytes: await stat(running, 'wasmcustom.meshwasm.vm.memory_bytes'),
  };
}

// The job is the same in every variant: back-python gets GET /jump with the client's x-request-id.
async function checkJob(running, checkLog) {
  const id = `bench-check-${running.name}`;
  const res = await httpGet(running.port, '/jump', { 'x-request-id': id }).catch((error) => ({ error }));
  if (res.status !== 200) {
    const tail = (existsSync(running.log) ? readFileSync(running.log, 'utf8') : '')
      .split('\n')
      .slice(-6)
      .join('\n');
    fail(`${running.name}: the check request got ${res.status ?? res.error.message}\n${tail}`);
  }
  for (let i = 0; i < 1000; i++) {
    const lines = existsSync(checkLog) ? readFileSync(checkLog, 'utf8').split('\n') : [];
    if (lines.includes(`GET /jump ${id}`)) return;
    await sleep(10);
  }
  fail(`${running.name}: back-python never got GET /jump with x-request-id ${id}`);
}

// ---- statistics and printing -------------------------------------------------------------------
const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};
const spread = (values, digits) =>
  `${median(values).toFixed(digits)} (${Math.min(...values).toFixed(digits)}-${Math.max(...values).toFixed(digits)})`;
function table(header, rows) {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const line = (cells) => `| ${cells.map((c, i) => String(c).padEnd(widths[i])).join(' | ')} |`;
  console.log(line(header));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const r of rows) console.log(line(r));
  console.log('');
}

// ---- main --------------------------------------------------------------------------------------
const upstream = { adminPort: await freePort(), appPort: await freePort(), backPort: await freePort() };
const checkLog = join(work, 'back-python-checks.log');
await startEnvoy('upstream', upstreamBootstrap({ ...upstream, checkLog }), upstream.adminPort, [
  upstream.appPort,
  upstream.backPort,
]);

const running = [];
for (const variant of VARIANTS) {
  let file = variant.wasm?.();
  if (variant.component) {
    file = componentOnDemand(variant.component);
    if (!file) {
      console.error(
        `bench/envoy.mjs: skipping ${variant.name}: ${variant.component} could not be built (see above)`,
      );
      continue;
    }
    variant.filters = [wasmFilter(variant.name, variant.name, file, BACK_PYTHON)];
  }
  if (variant.filters.some((f) => f.name === 'envoy.filters.http.wasm')) {
    file ??= variant.filters[0].typed_config.config.vm_config.code.local.filename;
  }
  const ports = { ...upstream, adminPort: await freePort(), port: await freePort() };
  const envoyProcess = await startEnvoy(variant.name, proxyBootstrap(variant, ports), ports.adminPort, [
    ports.port,
  ]);
  const entry = { ...variant, ...envoyProcess, port: ports.port, file, runs: [] };
  if (!variant.baseline) await checkJob(entry, checkLog);
  running.push(entry);
}

console.error(
  `bench/envoy.mjs: warm-up, then ${ROUNDS} rounds of ${SECONDS} s per variant, ${CONNECTIONS} connections`,
);
for (const r of running) load(r, 1);
const meshwasm = running.find((r) => r.name === 'meshwasm');
const memory10k = meshwasm ? await memoryAfter(meshwasm, 10000) : undefined;
for (let round = 0; round < ROUNDS; round++) {
  for (let i = 0; i < running.length; i++) {
    const r = running[(i + round) % running.length];
    r.runs.push(load(r, SECONDS));
  }
}
for (const r of running) r.rss = rssMiB(r.pid);
const memory200k = meshwasm ? await memoryAfter(meshwasm, 200000) : undefined;

const m = (r, key) => median(r.runs.map((x) => x[key]));
const base = running.find((r) => r.name === 'none');
const info = spawnSync(envoy, ['--version'], { encoding: 'utf8' }).stdout.trim().split('\n').pop();
console.log(
  `Envoy ${/\/(\d+\.\d+\.\d+)\//.exec(info)?.[1] ?? '?'} --concurrency 1, wrk -t1 -c${CONNECTIONS}, ` +
    `${ROUNDS} interleaved rounds of ${SECONDS} s; median (min-max) over rounds\n`,
);
table(
  ['variant', 'req/s', 'p50 ms', 'p99 ms', 'Envoy CPU s / 10k req', 'RSS MiB', '/ready ms'],
  running.map((r) => [
    r.label,
    spread(
      r.runs.map((x) => x.rps),
      0,
    ),
    spread(
      r.runs.map((x) => x.p50),
      2,
    ),
    spread(
      r.runs.map((x) => x.p99),
      2,
    ),
    spread(
      r.runs.map((x) => x.cpuPer10k),
      3,
    ),
    r.rss.toFixed(1),
    r.readyMs.toFixed(0),
  ]),
);

if (base) {
  const marginal = (r) => ((m(r, 'cpuPer10k') - m(base, 'cpuPer10k')) / 1e4) * 1e6; // µs per request
  console.log(
    'Against the baseline (no filter): marginal CPU = (variant - baseline) Envoy CPU per request\n',
  );
  table(
    ['variant', 'throughput x', 'p99 added', 'CPU x', 'marginal CPU µs/req'],
    running
      .filter((r) => r !== base)
      .map((r) => [
        r.label,
        (m(r, 'rps') / m(base, 'rps')).toFixed(3),
        `${(((m(r, 'p99') - m(base, 'p99')) / m(base, 'p99')) * 100).toFixed(1)}%`,
        (m(r, 'cpuPer10k') / m(base, 'cpuPer10k')).toFixed(3),
        marginal(r).toFixed(1),
      ]),
  );
  const ours = running.filter((r) => r.name.startsWith('meshwasm'));
  const peers = running.filter((r) => r !== base && !r.name.startsWith('meshwasm'));
  if (ours.length && peers.length) {
    console.log(
      'meshwasm against each peer (ratio of marginal CPU per request; < 1 = meshwasm costs less)\n',
    );
    table(
      ['variant', ...peers.map((p) => p.name)],
      ours.map((o) => [o.label, ...peers.map((p) => (marginal(o) / marginal(p)).toFixed(2))]),
    );
  }
}

const modules = running.filter((r) => r.file && r.name !== 'meshwasm-blocking');
if (modules.length) {
  console.log('Wasm modules\n');
  table(
    ['module', 'raw bytes', 'gzip -9 bytes', 'Envoy /ready ms'],
    modules.map((r) => {
      const bytes = readFileSync(r.file);
      return [r.label, bytes.length, gzipSync(bytes, { level: 9 }).length, r.readyMs.toFixed(0)];
    }),
  );
}
if (memory10k && memory200k) {
  const show = (x) =>
    x.bytes === undefined ? 'n/a (no meshwasm.vm.memory_bytes gauge)' : `${x.bytes} bytes`;
  console.log(
    `meshwasm VM Wasm memory: after ${memory10k.requests} requests ${show(memory10k)}; ` +
      `after ${memory200k.requests} requests ${show(memory200k)}`,
  );
}

// The Envoy processes keep the event loop alive; exiting stops them (see cleanup).
process.exit(0);
