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
// Then the same at a fixed offered load (--rate, default 1000 req/s; wrk paces each connection with
// its Lua delay() hook): below saturation, as a sidecar mostly runs, where throughput is whatever is
// offered and the latency a filter adds is the figure that matters. At saturation (the first table)
// throughput is the inverse of Envoy's CPU per request, so a filter that makes a second request per
// request cannot keep the baseline's: native mirroring is the floor there.
// With two CPUs or more, the Envoy under test has CPU 0 to itself (taskset) and wrk, the upstreams and
// this script share CPU 1: the "one core for Envoy, the other for the load generator".
// Wall-clock figures move with whatever else the machine runs; bench/envoy-callgrind.mjs counts
// Envoy's instructions per request instead, which do not.
//
//   node bench/envoy.mjs [--rounds 5] [--seconds 4] [--connections 16] [--rate 1000] [--only none,meshwasm,...]
//   [--plugin other/plugin.wasm]
// Needs: npm run build (plugin.wasm), scripts/components.sh envoy, wrk (apt-get install wrk);
// the Go and Rust peers are built on demand (scripts/components.sh bench-go-filter bench-rust-filter).

import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import {
  checkJob,
  envoyBinary,
  fail,
  flag,
  freePort,
  median,
  pinTo,
  proxyBootstrap,
  resolveModule,
  sleep,
  startEnvoy,
  startUpstream,
  stat,
  table,
  variants,
  workFile,
} from './lib/envoy-variants.mjs';

const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;
const ROUNDS = Number(flag('rounds', 5));
const SECONDS = Number(flag('seconds', 4));
const CONNECTIONS = Number(flag('connections', 16));
const RATE = Number(flag('rate', 1000));
const ONLY = flag('only', '').split(',').filter(Boolean);

const { envoy, version } = envoyBinary();
const UNDER_TEST = pinTo(0);
const LOAD_GENERATOR = pinTo(1);
if (LOAD_GENERATOR.length) spawnSync('taskset', ['-apc', '1', String(process.pid)], { stdio: 'ignore' });
const wrk = spawnSync('sh', ['-c', 'command -v wrk'], { encoding: 'utf8' }).stdout.trim();
if (!wrk) fail('wrk is missing: apt-get install wrk');

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

// Paced load: each connection waits CONNECTIONS/RATE s before its next request, so the connections
// together offer RATE req/s (a little less, by the time each answer takes).
const PACED = workFile('paced.lua');
if (RATE > 0) writeFileSync(PACED, `function delay() return ${(CONNECTIONS * 1000) / RATE} end\n`);

/** One wrk run against a variant (saturating, or paced at RATE); Envoy's CPU is read around it. */
function load(running, seconds, paced = false) {
  const before = cpuSeconds(running.pid);
  const result = spawnSync(
    LOAD_GENERATOR[0] ?? wrk,
    [
      ...LOAD_GENERATOR.slice(1),
      ...(LOAD_GENERATOR.length ? [wrk] : []),
      '-t1',
      `-c${CONNECTIONS}`,
      `-d${seconds}s`,
      '--latency',
      ...(paced ? ['-s', PACED] : []),
      `http://127.0.0.1:${running.port}/jump`,
    ],
    { encoding: 'utf8' },
  );
  const cpu = cpuSeconds(running.pid) - before;
  if (result.status !== 0) fail(`wrk failed: ${result.stderr}`);
  const run = parseWrk(result.stdout);
  if (run.non2xx > 0 || run.errors)
    fail(`${running.name}: ${run.non2xx} non-2xx answers, socket errors: ${run.errors}`);
  return { ...run, cpuPer10k: (cpu / run.requests) * 1e4, busy: cpu / seconds };
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

// ---- printing ----------------------------------------------------------------------------------
const spread = (values, digits) =>
  `${median(values).toFixed(digits)} (${Math.min(...values).toFixed(digits)}-${Math.max(...values).toFixed(digits)})`;
/** A table cell: median (min-max) of `key` over a list of wrk runs, `scale` applied. */
const cell = (runs, key, digits, scale = 1) =>
  spread(
    runs.map((x) => x[key] * scale),
    digits,
  );

// ---- main --------------------------------------------------------------------------------------
const upstream = await startUpstream(envoy, LOAD_GENERATOR);
const running = [];
for (const variant of variants(ONLY)) {
  if (!resolveModule(variant)) continue;
  const ports = { ...upstream, adminPort: await freePort(), port: await freePort() };
  const envoyProcess = await startEnvoy(
    envoy,
    variant.name,
    proxyBootstrap(variant, ports),
    ports.adminPort,
    [ports.port],
    { wrap: UNDER_TEST },
  );
  const entry = { ...variant, ...envoyProcess, port: ports.port, file: variant.wasm, runs: [], paced: [] };
  if (!variant.baseline) await checkJob(entry, upstream.checkLog);
  running.push(entry);
}

console.error(
  `bench/envoy.mjs: warm-up, then ${ROUNDS} rounds of ${SECONDS} s per variant, ${CONNECTIONS} connections` +
    (RATE > 0 ? `, saturating and paced at ${RATE} req/s` : ''),
);
for (const r of running) load(r, 1);
const meshwasm = running.find((r) => r.name === 'meshwasm');
const memory10k = meshwasm ? await memoryAfter(meshwasm, 10000) : undefined;
for (let round = 0; round < ROUNDS; round++) {
  for (let i = 0; i < running.length; i++) {
    const r = running[(i + round) % running.length];
    r.runs.push(load(r, SECONDS));
    if (RATE > 0) r.paced.push(load(r, SECONDS, true));
  }
}
for (const r of running) r.rss = rssMiB(r.pid);
const memory200k = meshwasm ? await memoryAfter(meshwasm, 200000) : undefined;

const m = (r, key) => median(r.runs.map((x) => x[key]));
const base = running.find((r) => r.name === 'none');
console.log(
  `Envoy ${version} --concurrency 1${UNDER_TEST.length ? ' on CPU 0' : ''}, wrk -t1 -c${CONNECTIONS}` +
    `${LOAD_GENERATOR.length ? ' and the upstreams on CPU 1' : ''}, ` +
    `${ROUNDS} interleaved rounds of ${SECONDS} s; median (min-max) over rounds\n`,
);
table(
  ['variant', 'req/s', 'p50 ms', 'p99 ms', 'Envoy CPU s / 10k req', 'RSS MiB', '/ready ms'],
  running.map((r) => [
    r.label,
    cell(r.runs, 'rps', 0),
    cell(r.runs, 'p50', 2),
    cell(r.runs, 'p99', 2),
    cell(r.runs, 'cpuPer10k', 3),
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
    // Within a round the variants run back to back, so a ratio taken there is not moved by what the
    // machine did minutes apart; its median and spread over rounds are the figure to quote.
    const roundMarginal = (r, i) => r.runs[i].cpuPer10k - base.runs[i].cpuPer10k;
    const perRound = (o, p) => o.runs.map((_, i) => roundMarginal(o, i) / roundMarginal(p, i));
    console.log(
      'meshwasm against each peer: ratio of marginal CPU per request taken within each round, ' +
        'median (min-max) over rounds; < 1 = meshwasm costs less\n',
    );
    table(
      ['variant', ...peers.map((p) => p.name)],
      ours.map((o) => [o.label, ...peers.map((p) => spread(perRound(o, p), 2))]),
    );
  }
}

if (RATE > 0) {
  const p = (r, key) => median(r.paced.map((x) => x[key]));
  console.log(
    `At a fixed offered load of ${RATE} req/s (wrk delay() pacing ${CONNECTIONS} connections), ` +
      `same rounds; median (min-max) over rounds\n`,
  );
  table(
    [
      'variant',
      'req/s',
      'p50 ms',
      'p99 ms',
      'Envoy busy % of a core',
      ...(base ? ['p50 added', 'p99 added'] : []),
    ],
    running.map((r) => [
      r.label,
      cell(r.paced, 'rps', 0),
      cell(r.paced, 'p50', 3),
      cell(r.paced, 'p99', 3),
      cell(r.paced, 'busy', 1, 100),
      ...(base && r !== base
        ? [
            `${(((p(r, 'p50') - p(base, 'p50')) / p(base, 'p50')) * 100).toFixed(1)}%`,
            `${(((p(r, 'p99') - p(base, 'p99')) / p(base, 'p99')) * 100).toFixed(1)}%`,
          ]
        : base
          ? ['', '']
          : []),
    ]),
  );
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
