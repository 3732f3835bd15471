// `meshwasm render` has two entries: bin/run.js sends render argv to the lean entry
// (cli/render-main.ts, node:util parseArgs, no oclif) and everything else to oclif. They must be
// indistinguishable: same stdout, stderr and exit code for every argv, good or bad. Checked three
// ways: the real CLI both ways (MESHWASM_OCLIF=1 forces oclif) on a matrix of argv; the lean parser
// against oclif's own parser on argv generated from every flag in cli/lib/render-flags.ts; and the
// lean entry in-process (for coverage, and the error paths).
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Parser } from '@oclif/core';
import t from 'tap';

import Render from '../cli/commands/render.js';
import { givenSettings } from '../cli/lib/oclif-flags.js';
import { parseRenderArgv } from '../cli/lib/render-argv.js';
import { registryOptions } from '../cli/lib/render-run.js';
import { RENDER_FLAGS } from '../cli/lib/render-flags.js';
import { cleanEnv, mapLimit, ROOT, runCliAsync, runCommand, runLean } from './helpers/render-run.js';

const scratch = mkdtempSync(join(tmpdir(), 'meshwasm-lean-'));
const values = join(scratch, 'values.yaml');
writeFileSync(values, 'target: envoyfilter\ncalloutPath: /from-file\ncalloutPort: 9000\n');

interface Case {
  what: string;
  argv: string[];
  env?: Record<string, string>;
  input?: string;
  /** The lean entry handles it (true) or leaves it to oclif (false). */
  lean: boolean;
}

const CASES: Case[] = [
  { what: 'no flags', argv: [], lean: true },
  { what: '--flag value', argv: ['--target', 'envoyfilter'], lean: true },
  { what: '--flag=value', argv: ['--target=envoy-gateway'], lean: true },
  { what: 'short chars', argv: ['-n', 'team-a', '-o', 'json'], lean: true },
  { what: 'short char with attached value', argv: ['-ojson'], lean: false },
  { what: 'short char with =value', argv: ['-o=json'], lean: false },
  { what: 'value starting with -', argv: ['--priority', '-10', '--target', 'envoyfilter'], lean: true },
  {
    what: 'value "-" (stdin)',
    argv: ['-f', '-'],
    input: 'target: envoy-gateway\ngateway: my-gw\n',
    lean: true,
  },
  { what: 'value that looks like a flag but is none', argv: ['--callout-path', '--x'], lean: true },
  {
    what: 'repeated repeatable flag',
    argv: ['--callout-header', 'x-a=1', '--callout-header', 'x-b=2'],
    lean: true,
  },
  { what: 'switch', argv: ['--fail-open', '--mesh-version', 'istio-1.30'], lean: true },
  { what: '--no-switch over env', argv: ['--no-fail-open'], env: { MESHWASM_FAIL_OPEN: 'true' }, lean: true },
  { what: 'switch and its negation', argv: ['--fail-open', '--no-fail-open'], lean: false },
  {
    what: 'env vars',
    argv: [],
    env: { MESHWASM_TARGET: 'envoyfilter', MESHWASM_CALLOUT_PORT: '9000' },
    lean: true,
  },
  { what: 'values file, flag overrides', argv: ['-f', values, '--callout-port', '9100'], lean: true },
  { what: 'values file from MESHWASM_VALUES', argv: [], env: { MESHWASM_VALUES: values }, lean: true },
  { what: 'empty MESHWASM_VALUES', argv: [], env: { MESHWASM_VALUES: '' }, lean: true },
  { what: '--print-values', argv: ['--print-values', '--target', 'envoy-gateway'], lean: true },
  {
    what: 'YAML metacharacters in a value',
    argv: ['--callout-path=/x?y=a: b#c', '--callout-header', 'x-q="a"'],
    lean: true,
  },
  { what: 'empty value', argv: ['--workload='], lean: true },
  { what: 'bad value', argv: ['--target', 'linkerd'], lean: true },
  { what: 'port out of range', argv: ['--callout-port', '0'], lean: true },
  { what: 'impossible combination', argv: ['--mode', 'blocking', '--fan-out', '0'], lean: true },
  { what: 'bad env value', argv: [], env: { MESHWASM_CALLOUT_PORT: 'eighty' }, lean: true },
  { what: 'missing values file', argv: ['-f', join(scratch, 'nope.yaml')], lean: true },
  { what: 'unknown flag', argv: ['--callout-prot', '1'], lean: false },
  { what: 'unknown short char', argv: ['-x'], lean: false },
  { what: 'missing value', argv: ['--namespace'], lean: false },
  { what: 'value that names a flag', argv: ['--workload', '--target'], lean: false },
  { what: 'value that names a short char', argv: ['--workload', '-n'], lean: false },
  { what: '=value that names a flag', argv: ['--callout-body=--fail-open'], lean: false },
  { what: '=value that names a short char', argv: ['--workload=-n'], lean: false },
  { what: '=value that names a negation', argv: ['--callout-path=--no-fail-open'], lean: false },
  { what: '=value that looks like a flag but is none', argv: ['--callout-body=--x'], lean: true },
  { what: 'repeated flag', argv: ['--target', 'ossm', '--target', 'envoyfilter'], lean: false },
  { what: 'stray argument', argv: ['extra'], lean: false },
  { what: 'argument after a repeatable flag', argv: ['--callout-header', 'x-a=1', 'x-b=2'], lean: false },
  { what: 'switch with a value', argv: ['--fail-open=yes'], lean: false },
  { what: 'negation of a plain switch', argv: ['--no-print-values'], lean: false },
  { what: 'double dash', argv: ['--', '--target', 'ossm'], lean: false },
  { what: '--help', argv: ['--target', 'ossm', '--help'], lean: false },
  { what: '-h', argv: ['-h'], lean: false },
];

t.test('the lean parser takes exactly the argv it is meant to', async (t) => {
  for (const c of CASES)
    t.equal(
      parseRenderArgv(c.argv, c.env ?? {}) !== undefined,
      c.lean,
      `${c.what}: ${c.lean ? 'lean entry' : 'oclif'}`,
    );
});

t.test('real CLI: the lean entry and oclif print the same and exit the same', async (t) => {
  const results = await mapLimit(CASES, 2, async (c) => {
    const options = { env: c.env, input: c.input };
    const lean = await runCliAsync(['render', ...c.argv], options);
    const oclif = await runCliAsync(['render', ...c.argv], {
      ...options,
      env: { ...c.env, MESHWASM_OCLIF: '1' },
    });
    return { c, lean, oclif };
  });
  let failures = 0;
  for (const { c, lean, oclif } of results) {
    t.equal(lean.code, oclif.code, `${c.what}: exit code ${oclif.code}`);
    t.equal(lean.stdout, oclif.stdout, `${c.what}: same stdout`);
    t.equal(lean.stderr, oclif.stderr, `${c.what}: same stderr`);
    if (oclif.code !== 0) t.equal(lean.stdout, '', `${c.what}: nothing on stdout when it fails`);
    if (oclif.code !== 0) failures++;
  }
  t.ok(
    failures >= 10 && failures < CASES.length - 10,
    `the matrix has both good (${CASES.length - failures}) and bad (${failures}) input`,
  );
});

/** The real CLI with its stdout closed before it writes (`meshwasm render | head -c0`). */
async function closedPipe(env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(
    process.execPath,
    [join(ROOT, 'bin', 'run.js'), 'render', '--target', 'envoy-gateway', '-o', 'json'],
    { cwd: ROOT, env: cleanEnv(env) },
  );
  child.stdout.destroy();
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stderr })));
}

t.test('real CLI: a reader that goes away is not an error, on either entry', async (t) => {
  const [lean, oclif] = await Promise.all([closedPipe({}), closedPipe({ MESHWASM_OCLIF: '1' })]);
  t.same(lean, oclif);
  t.equal(lean.code, 0);
  t.notMatch(lean.stderr, /EPIPE/);
});

/** Every form of every flag, generated from the flag table, with a value the flag can take. */
function generatedArgv(): string[][] {
  const cases: string[][] = [];
  for (const flag of RENDER_FLAGS) {
    const long = `--${flag.name}`;
    if (flag.kind === 'boolean') {
      cases.push([long]);
      if (flag.allowNo) cases.push([`--no-${flag.name}`], [long, '--target', 'ossm']);
      continue;
    }
    // Values that name flags too: oclif reads `--x=--fail-open` as --x with no value.
    for (const value of [
      'v',
      '-1',
      '-',
      '',
      'a=b',
      'x y',
      '--not-a-flag',
      '--fail-open',
      '--no-fail-open',
      '-n',
      '-ojson',
    ])
      cases.push([long, value], [`${long}=${value}`]);
    if (flag.char)
      cases.push([`-${flag.char}`, 'v'], [`-${flag.char}`, '-1'], ['--target', 'ossm', `-${flag.char}`, 'w']);
    if (flag.kind === 'multiple')
      cases.push([long, 'a=1', long, 'b=2'], [long, 'a=1', '--target', 'ossm', long, '-b']);
    cases.push([long, 'v', '--shape', 'sidecar']);
  }
  return cases;
}

t.test('the lean parser reads every flag the way oclif does', async (t) => {
  const saved = process.env;
  process.env = {};
  try {
    let compared = 0;
    for (const argv of generatedArgv()) {
      const lean = parseRenderArgv(argv, {});
      if (!lean) continue;
      // The lean parser took it, so oclif must too (a parse error here is a disagreement).
      const { flags, raw } = await Parser.parse(argv, { flags: Render.flags, args: {}, strict: true }).catch(
        (error: Error) => {
          t.fail(`${JSON.stringify(argv)}: lean parser accepts it, oclif says ${error.message}`);
          return { flags: {} as Record<string, never>, raw: [] };
        },
      );
      const oclif = {
        given: givenSettings(flags, raw),
        printValues: flags['print-values'] ?? false,
        registry: registryOptions((name) => flags[name]),
        ...(flags.values === undefined ? {} : { values: flags.values }),
      };
      t.same(lean, oclif, JSON.stringify(argv));
      compared++;
    }
    t.ok(compared > 5 * RENDER_FLAGS.length, `${compared} generated argv compared`);
  } finally {
    process.env = saved;
  }
});

t.test(
  'in-process: the lean entry renders, reports usage errors, and leaves the rest to oclif',
  async (t) => {
    const good = await runLean(['--target', 'envoy-gateway', '-o', 'json']);
    t.ok(good.handled);
    t.equal(good.code, 0, good.stderr);
    t.same(
      good,
      { ...(await runCommand('render', ['--target', 'envoy-gateway', '-o', 'json'])), handled: true },
      'same as the oclif command',
    );
    t.equal(JSON.parse(good.stdout).kind, 'List');

    const bad = await runLean(['--callout-port', '70000']);
    t.same(bad, {
      handled: true,
      code: 2,
      stdout: '',
      stderr: 'Error: --callout-port: 70000 is out of range; use a port between 1 and 65535\n',
    });

    const printed = await runLean(['--print-values'], { MESHWASM_TARGET: 'envoyfilter' });
    t.match(printed.stdout, /^target: envoyfilter$/m);

    const delegated = await runLean(['--callout-prot', '1']);
    t.same(delegated, { handled: false, code: 0, stdout: '', stderr: '' }, 'nothing done, nothing printed');
  },
);

t.test('in-process: an unexpected error goes to oclif’s handler, as on the oclif path', async (t) => {
  const handled: unknown[] = [];
  const { renderWithoutOclif } = await t.mockImport<typeof import('../cli/render-main.js')>(
    '../cli/render-main.js',
    {
      '../cli/lib/render-run.js': {
        runRender: async () => {
          throw new Error('boom');
        },
      },
      '@oclif/core': { handle: async (error: unknown) => void handled.push(error) },
    },
  );
  t.equal(await renderWithoutOclif([]), true);
  t.match(handled, [{ message: 'boom' }]);
});
