#!/usr/bin/env node
// Wall time of `meshwasm render` against `node -e 0`, measured in this one invocation (medians of
// interleaved runs, so machine load affects both alike). The target is a ratio of at most 3.
// render normally runs through the lean entry (cli/render-main.ts); the MESHWASM_OCLIF=1 line is
// the same render through oclif, for comparison. Needs dist/ (npm run build). Usage: node bench/cli.mjs [--runs N]
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const TARGET_RATIO = 3;
const runsFlag = process.argv.indexOf('--runs');
const RUNS = runsFlag > 0 ? Number(process.argv[runsFlag + 1]) : 15;

if (
  !existsSync(join(ROOT, 'dist', 'cli', 'commands', 'render.js')) ||
  !existsSync(join(ROOT, 'oclif.manifest.json'))
) {
  console.error('bench/cli.mjs: dist/ or oclif.manifest.json is missing; run `npm run build` first');
  process.exit(2);
}

// The environment of a user's shell: no MESHWASM_* settings, no test-runner preloads.
const env = Object.fromEntries(
  Object.entries(process.env).filter(([key]) => !key.startsWith('MESHWASM_') && key !== 'NODE_OPTIONS'),
);

const cases = [
  { name: 'node -e 0', args: ['-e', '0'] },
  { name: 'meshwasm --version', args: [join(ROOT, 'bin', 'run.js'), '--version'] },
  { name: 'meshwasm render', args: [join(ROOT, 'bin', 'run.js'), 'render'] },
  {
    name: 'meshwasm render --target envoyfilter',
    args: [join(ROOT, 'bin', 'run.js'), 'render', '--target', 'envoyfilter'],
  },
  {
    name: 'meshwasm render --target envoy-gateway',
    args: [join(ROOT, 'bin', 'run.js'), 'render', '--target', 'envoy-gateway'],
  },
  {
    name: 'meshwasm render (MESHWASM_OCLIF=1)',
    args: [join(ROOT, 'bin', 'run.js'), 'render'],
    env: { MESHWASM_OCLIF: '1' },
  },
];

function once(args, extraEnv = {}) {
  const start = process.hrtime.bigint();
  const result = spawnSync(process.execPath, args, {
    cwd: ROOT,
    env: { ...env, ...extraEnv },
    encoding: 'utf8',
  });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (result.status !== 0) throw new Error(`${args.join(' ')} exited ${result.status}: ${result.stderr}`);
  return ms;
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

for (const c of cases) once(c.args, c.env); // warm the file system cache
const samples = new Map(cases.map((c) => [c.name, []]));
for (let i = 0; i < RUNS; i++) for (const c of cases) samples.get(c.name).push(once(c.args, c.env));

const baseline = median(samples.get('node -e 0'));
console.log(`meshwasm CLI wall time, median of ${RUNS} interleaved runs (node ${process.version})`);
for (const c of cases) {
  const m = median(samples.get(c.name));
  console.log(`${c.name.padEnd(40)} ${m.toFixed(1).padStart(7)} ms  ${(m / baseline).toFixed(2)}x`);
}
// The target holds for every --target, so the verdict is on the slowest one.
const renders = cases.filter((c) => c.name.startsWith('meshwasm render') && !c.env);
const ratio = median(samples.get('meshwasm render')) / baseline;
const worst = renders
  .map((c) => ({ name: c.name, ratio: median(samples.get(c.name)) / baseline }))
  .sort((a, b) => b.ratio - a.ratio)[0];
const met = worst.ratio <= TARGET_RATIO ? 'met' : 'NOT met';
console.log(
  `render / node -e 0 = ${ratio.toFixed(2)}x, slowest target ${worst.ratio.toFixed(2)}x (${worst.name}) (target <= ${TARGET_RATIO}x: ${met})`,
);
