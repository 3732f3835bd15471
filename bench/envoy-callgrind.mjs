#!/usr/bin/env node
// What each variant of bench/envoy.mjs costs inside Envoy, in instructions per request: Envoy 1.40
// (--concurrency 1) runs under valgrind's callgrind, one variant at a time, while a keep-alive client
// sends a warm-up and then a fixed number of requests; the counters are zeroed between the two and
// dumped after the last callout has answered. Instruction counts do not move with machine load (the
// wall-clock benchmark does), so the ratios here are the ones to compare across runs and machines.
// The upstream Envoy (the app and back-python) runs natively and is not counted.
//
//   node bench/envoy-callgrind.mjs [--requests 2000] [--warmup 300] [--connections 4]
//                                  [--only none,mirror,meshwasm,...] [--annotate meshwasm]
//                                  [--plugin other/plugin.wasm]
// --annotate NAME prints the functions that cost that variant the most instructions.
// Needs: npm run build (plugin.wasm), scripts/components.sh envoy, valgrind (apt-get install valgrind);
// the Go and Rust peers are built on demand, as bench/envoy.mjs builds them.

import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { Agent } from 'node:http';
import {
  checkJob,
  envoyBinary,
  fail,
  flag,
  freePort,
  httpGet,
  proxyBootstrap,
  resolveModule,
  sleep,
  startEnvoy,
  startUpstream,
  stat,
  stopEnvoy,
  table,
  variants,
  workFile,
} from './lib/envoy-variants.mjs';

const REQUESTS = Number(flag('requests', 2000));
const WARMUP = Number(flag('warmup', 300));
const CONNECTIONS = Number(flag('connections', 4));
const ONLY = flag('only', '').split(',').filter(Boolean);
const ANNOTATE = flag('annotate', '');

const { envoy, version } = envoyBinary();
for (const tool of ['valgrind', 'callgrind_control', 'callgrind_annotate']) {
  if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0)
    fail(`${tool} is missing: apt-get install valgrind`);
}

/** `count` GETs over `connections` keep-alive connections; every answer must be a 200. */
async function send(port, count) {
  const agent = new Agent({ keepAlive: true, maxSockets: CONNECTIONS });
  let next = 0;
  const worker = async () => {
    while (next < count) {
      next++;
      const res = await httpGet(port, '/jump', {}, agent);
      if (res.status !== 200) fail(`a request got ${res.status}`);
    }
  };
  await Promise.all(Array.from({ length: CONNECTIONS }, worker));
  agent.destroy();
}

function control(pid, ...args) {
  const r = spawnSync('callgrind_control', [...args, String(pid)], { encoding: 'utf8' });
  if (r.status !== 0) fail(`callgrind_control ${args.join(' ')} failed: ${r.stderr || r.stdout}`);
}

/** The newest dump of a callgrind output prefix: its total instruction count and file. */
function lastDump(prefix) {
  const dir = workFile('');
  const files = readdirSync(dir)
    .filter((f) => f.startsWith(prefix))
    .map((f) => workFile(f));
  const file = files.sort((a, b) => Number(a.split('.').pop()) - Number(b.split('.').pop())).pop();
  if (!file || !existsSync(file)) fail(`callgrind wrote no dump for ${prefix}`);
  const total = /^(?:summary|totals): (\d+)/m.exec(readFileSync(file, 'utf8'));
  if (!total) fail(`no instruction total in ${file}`);
  return { file, instructions: Number(total[1]) };
}

const upstream = await startUpstream(envoy);
const results = [];
for (const variant of variants(ONLY)) {
  if (!resolveModule(variant)) continue;
  const ports = { ...upstream, adminPort: await freePort(), port: await freePort() };
  const out = `callgrind.${variant.name}`;
  // V8 writes the code it compiles into memory and runs it: valgrind must look for that everywhere
  // but in files (--smc-check). Instrumentation starts when the warm-up is over.
  const wrap = [
    'valgrind',
    '--tool=callgrind',
    '--smc-check=all-non-file',
    '--instr-atstart=no',
    `--callgrind-out-file=${workFile(out)}`,
  ];
  console.error(`${variant.name}: starting Envoy under callgrind`);
  const running = await startEnvoy(
    envoy,
    variant.name,
    proxyBootstrap(variant, ports),
    ports.adminPort,
    [ports.port],
    { wrap, slow: true },
  );
  Object.assign(running, { name: variant.name, port: ports.port });
  if (!variant.baseline) await checkJob(running, upstream.checkLog);
  await send(ports.port, WARMUP);
  await sleep(500);
  control(running.pid, '--instr=on');
  control(running.pid, '--zero');
  const started = await stat(running, 'http.bench.downstream_rq_total');
  await send(ports.port, REQUESTS);
  // The callouts are fire-and-forget: let the last ones answer before counting.
  await sleep(1500);
  const served = (await stat(running, 'http.bench.downstream_rq_total')) - started;
  control(running.pid, '--dump');
  const { file, instructions } = lastDump(out);
  results.push({ ...variant, perRequest: instructions / served, file, served });
  console.error(
    `${variant.name}: ${served} requests, ${(instructions / served / 1000).toFixed(1)}k instructions each`,
  );
  await stopEnvoy(running);
}

const base = results.find((r) => r.baseline);
const mirror = results.find((r) => r.name === 'mirror');
const k = (n) => `${(n / 1000).toFixed(1)}k`;
console.log(
  `Envoy ${version} --concurrency 1 under callgrind, ${CONNECTIONS} keep-alive connections, ` +
    `${REQUESTS} requests after ${WARMUP} of warm-up; instructions of the whole Envoy process per request\n`,
);
const marginal = (r) => r.perRequest - (base?.perRequest ?? 0);
table(
  ['variant', 'instructions / request', 'marginal (- baseline)', 'marginal / mirror'],
  results.map((r) => [
    r.label,
    k(r.perRequest),
    base && r !== base ? k(marginal(r)) : '',
    base && mirror && r !== base ? (marginal(r) / marginal(mirror)).toFixed(2) : '',
  ]),
);
const ours = results.filter((r) => r.name.startsWith('meshwasm'));
const peers = results.filter((r) => !r.baseline && !r.name.startsWith('meshwasm'));
if (base && ours.length && peers.length) {
  console.log(
    'meshwasm against each peer (ratio of marginal instructions per request; < 1 = meshwasm costs less)\n',
  );
  table(
    ['variant', ...peers.map((p) => p.name)],
    ours.map((o) => [o.label, ...peers.map((p) => (marginal(o) / marginal(p)).toFixed(2))]),
  );
}

if (ANNOTATE) {
  const r =
    results.find((x) => x.name === ANNOTATE) ?? fail(`--annotate ${ANNOTATE}: no such variant was run`);
  const a = spawnSync('callgrind_annotate', ['--inclusive=no', '--threshold=95', r.file], {
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
  const lines = a.stdout.split('\n').filter((l) => /^\s*[\d,]+ \(/.test(l));
  console.log(`Where ${r.label} spends its instructions (self cost per request, top functions)\n`);
  for (const line of lines.slice(1, 31)) {
    const m = /^\s*([\d,]+) \(\s*([\d.]+)%\)\s+(.*)$/.exec(line);
    if (m)
      console.log(
        `${(Number(m[1].replace(/,/g, '')) / r.served).toFixed(0).padStart(8)}  ${m[2].padStart(5)}%  ${m[3].slice(0, 150)}`,
      );
  }
}
process.exit(0);
