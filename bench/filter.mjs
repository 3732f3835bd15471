// Filter benchmark (not a test): run after `npm run build`.
//
//   node bench/filter.mjs [--requests 200000] [--rounds 5] [--plugin other.wasm]
//
// Prints, for the compiled filter (filter/build/plugin.wasm) and an empty proxy-wasm module built
// with the same toolchain (bench/fixtures/empty.ts), both driven the same way through the Node host
// (dist/host) in this process:
//   - guest time per request (time V8 spends in the module's own wasm code, from its sampling
//     profiler) and wall time per request through the host API, each as a ratio;
//   - plugin.wasm size, raw and gzipped;
//   - the filter's linear memory after 10k and after 200k requests.
// The filter runs its default configuration plus a cluster (async, request trigger, fanOut 1, default
// header propagation); callouts go to a 'manual' cluster and are answered at once, so there is no
// network in the numbers.

import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { parseArgs } from 'node:util';
import inspector from 'node:inspector';

// Envoy runs V8 with TurboFan up front (--no-liftoff, cpp-host src/v8/v8.cc). With Node's default
// lazy, tiered compilation the tiny empty module's callbacks sit in whichever tier they happen to
// reach, which moved its guest time between ~200 and ~500 ns from one process to the next; so the
// benchmark re-runs itself under Envoy's flags.
const ENVOY_V8_FLAGS = ['--no-liftoff', '--no-wasm-lazy-compilation'];
if (!ENVOY_V8_FLAGS.every((flag) => process.execArgv.includes(flag))) {
  const child = spawnSync(
    process.execPath,
    [...process.execArgv, ...ENVOY_V8_FLAGS, ...process.argv.slice(1)],
    { stdio: 'inherit' },
  );
  process.exit(child.status ?? 1);
}

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { values: args } = parseArgs({
  options: {
    requests: { type: 'string', default: '200000' },
    rounds: { type: 'string', default: '5' },
    // another build of the filter to measure instead of filter/build/plugin.wasm (e.g. an AS 0.17 ARC build)
    plugin: { type: 'string' },
  },
});
const MEMORY_REQUESTS = Math.max(10_000, Number(args.requests));
const ROUNDS = Math.max(1, Number(args.rounds));
const ROUND_REQUESTS = 40_000;

// ---- Guest-time accounting -----------------------------------------------------------------------
// V8's sampling profiler (node:inspector) attributes each sample to the function on top of the stack.
// Samples whose top frame is a wasm function of a module are that module's guest time; samples in
// the host's JavaScript (including the host functions the guest calls) are not. Timing each call
// with a clock instead would cost more than an empty module's whole callback.
const profiler = new inspector.Session();
profiler.connect();
const post = (method, params = {}) =>
  new Promise((resolve, reject) => {
    profiler.post(method, params, (err, res) => (err ? reject(err) : resolve(res)));
  });

/** Runs `body` under the sampling profiler; returns guest ns per wasm module URL. */
async function profileGuest(body) {
  await post('Profiler.enable');
  await post('Profiler.setSamplingInterval', { interval: 25 });
  await post('Profiler.start');
  body();
  const { profile } = await post('Profiler.stop');
  const byId = new Map(profile.nodes.map((n) => [n.id, n.callFrame]));
  const ns = new Map();
  for (let i = 0; i < profile.samples.length; i++) {
    const frame = byId.get(profile.samples[i]);
    if (!frame || !frame.url.startsWith('wasm://') || /^(wasm-to-js|js-to-wasm)/.test(frame.functionName))
      continue;
    ns.set(frame.url, (ns.get(frame.url) ?? 0) + (profile.timeDeltas[i] ?? 0) * 1000);
  }
  return ns;
}

/** The URL V8 gives a module's functions in profiles (wasm://wasm/<hash>), found by calling into it. */
async function moduleUrl(host, state) {
  for (let n = 10_000; n <= 160_000; n *= 2) {
    const ns = await profileGuest(() => {
      for (let i = 0; i < n; i++) drive(host, state);
    });
    const url = [...ns.entries()].sort((a, b) => b[1] - a[1])[0]?.[0];
    if (url) return url;
  }
  throw new Error('no profiler sample landed in the module');
}

const { ProxyWasmHost } = await import(path.join(ROOT, 'dist/host/index.js'));
const { compileAssemblyScript } = await import(path.join(ROOT, 'filter/build.mjs'));

const CLUSTER = 'outbound|8444||back-python.jump-app-dev.svc.cluster.local';
const REQUEST = [
  [':authority', 'back-golang.jump-app-dev.svc.cluster.local:8442'],
  [':path', '/jump'],
  [':method', 'GET'],
  [':scheme', 'http'],
  ['user-agent', 'curl/8.5.0'],
  ['accept', '*/*'],
  ['x-forwarded-proto', 'http'],
  ['x-request-id', '7b1e5d2a-4c1f-4a8e-9d3b-2f6c8e1a0b9d'],
  ['traceparent', '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'],
  ['x-b3-traceid', '4bf92f3577b34da6a3ce929d0e0e4736'],
  ['x-b3-spanid', '00f067aa0ba902b7'],
  ['x-b3-sampled', '1'],
  ['authorization', 'Bearer not-forwarded'],
];
const RESPONSE = [
  [':status', '200'],
  ['content-type', 'text/plain'],
  ['content-length', '2'],
];
const CALLOUT_REPLY = {
  headers: [
    [':status', '200'],
    ['content-length', '2'],
  ],
  body: 'ok',
};

async function startHost(wasm, withCallout) {
  return ProxyWasmHost.start({
    wasm,
    rootId: 'meshwasm',
    trace: false,
    pluginConfig: withCallout ? JSON.stringify({ cluster: CLUSTER }) : '',
    clusters: { [CLUSTER]: 'manual' },
  });
}

// One request, driven exactly the same way for both modules. Callout tokens are 4, 8, 12, ... per VM.
function drive(host, state) {
  const id = host.initializeHttpContext();
  host.callOnRequestHeaders(id, REQUEST, true);
  if (state.callouts) {
    state.token += 4;
    host.respondToHttpCall(state.token, CALLOUT_REPLY);
  }
  host.callOnResponseHeaders(id, RESPONSE, true);
  host.completeHttpContext(id);
}

/** n requests through each host, alternating in blocks; wall and guest ns per request for each. */
async function measure(runs, n) {
  const wall = runs.map(() => 0);
  const guest = await profileGuest(() => {
    for (let done = 0; done < n; done += 1000) {
      runs.forEach((r, k) => {
        const t0 = process.hrtime.bigint();
        for (let i = 0; i < 1000; i++) drive(r.host, r.state);
        wall[k] += Number(process.hrtime.bigint() - t0);
      });
    }
  });
  return runs.map((r, k) => ({ wall: wall[k] / n, guest: (guest.get(r.url) ?? 0) / n }));
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const tmp = await mkdtemp(path.join(os.tmpdir(), 'meshwasm-bench-'));
try {
  const plugin = await readFile(args.plugin ?? path.join(ROOT, 'filter/build/plugin.wasm'));
  const empty = await compileAssemblyScript({
    entry: path.join(ROOT, 'bench/fixtures/empty.ts'),
    outFile: path.join(tmp, 'empty.wasm'),
    quiet: true,
  });
  const filterHost = await startHost(plugin, true);
  const emptyHost = await startHost(empty, false);
  const runs = [
    { host: filterHost, state: { callouts: true, token: 0 } },
    { host: emptyHost, state: { callouts: false, token: 0 } },
  ];
  // Warm up both (JIT tiers, GC heap) and learn which profile URL is which module.
  for (const r of runs) r.url = await moduleUrl(r.host, r.state);
  if (runs[0].url === runs[1].url) throw new Error('could not tell the two modules apart in the profile');
  const rounds = [];
  for (let r = 0; r < ROUNDS; r++) rounds.push(await measure(runs, ROUND_REQUESTS));
  const fGuest = median(rounds.map((x) => x[0].guest));
  const eGuest = median(rounds.map((x) => x[1].guest));
  // The empty module's guest time is a few hundred ns a request, so the sampling profiler's noise
  // moves the ratio from round to round: report the median of the per-round ratios and their spread.
  const guestRatios = rounds.map((x) => x[0].guest / x[1].guest);
  const fWall = median(rounds.map((x) => x[0].wall));
  const eWall = median(rounds.map((x) => x[1].wall));
  const filterState = runs[0].state;
  const emptyState = runs[1].state;
  filterHost.tick(); // the filter publishes its metrics on the root's tick
  if (
    filterHost.getCounter('meshwasm.callouts.succeeded') !== BigInt(filterState.token / 4) ||
    filterHost.isFailed()
  ) {
    throw new Error('the filter did not complete every callout; the numbers would be meaningless');
  }

  // Memory: a fresh VM, 10k requests, then up to MEMORY_REQUESTS.
  const memHost = await startHost(plugin, true);
  const memState = { callouts: true, token: 0 };
  const memoryAt = {};
  for (let i = 1; i <= MEMORY_REQUESTS; i++) {
    drive(memHost, memState);
    if (i === 10_000 || i === MEMORY_REQUESTS) memoryAt[i] = memHost.memoryBytes();
  }
  const emptyMemHost = await startHost(empty, false);
  for (let i = 0; i < 10_000; i++) drive(emptyMemHost, emptyState);

  const gz = gzipSync(plugin, { level: 9 }).length;
  const kib = (b) => `${(b / 1024).toFixed(1)} KiB`;
  const lines = [
    `meshwasm filter benchmark (node ${process.version} ${ENVOY_V8_FLAGS.join(' ')}, ${os.cpus().length} CPUs, ${ROUNDS} x ${ROUND_REQUESTS} requests per module)`,
    `plugin.wasm size:             ${plugin.length} B raw (${kib(plugin.length)}), ${gz} B gzipped (${kib(gz)}); empty module ${empty.length} B`,
    `guest time per request:       filter ${fGuest.toFixed(0)} ns, empty ${eGuest.toFixed(0)} ns, ratio ${median(guestRatios).toFixed(2)}x` +
      ` (median of ${ROUNDS} rounds, ${Math.min(...guestRatios).toFixed(2)}-${Math.max(...guestRatios).toFixed(2)}x;` +
      " self time of wasm functions in V8's sampling profiler; host functions excluded)",
    `wall time per request (host): filter ${fWall.toFixed(0)} ns, empty ${eWall.toFixed(0)} ns, ratio ${(fWall / eWall).toFixed(2)}x` +
      ' (host + guest, driven through the host API)',
    `filter linear memory:         ${kib(memoryAt[10_000])} after 10k requests, ${kib(memoryAt[MEMORY_REQUESTS])} after ${MEMORY_REQUESTS / 1000}k` +
      ` (${memoryAt[MEMORY_REQUESTS] === memoryAt[10_000] ? 'flat' : 'GREW'}); empty module ${kib(emptyMemHost.memoryBytes())} after 10k`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  for (const h of [filterHost, emptyHost, memHost, emptyMemHost]) h.shutdown();
} finally {
  await rm(tmp, { recursive: true, force: true });
}
