// kubectl and oclif habits on the real CLI: -h everywhere, one line with a did-you-mean and the
// usage line for a misspelt command or flag, one error style and exit 2 for usage errors, a
// quiet end when the reader goes away, `version`/`--version`, `-o json` with shared field
// names, completion of the values of --target, --shape, --mesh-version and -o, and `build` from
// another folder.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';

import { main, normalizeArgv } from '../cli/lib/entry.js';
import { cleanEnv, ROOT, runCli } from './helpers/render-run.js';

const scratch = mkdtempSync(join(tmpdir(), 'meshwasm-habits-'));
const COMMANDS = ['render', 'validate', 'build', 'push', 'dev', 'version'];

/** cli/lib/entry.ts in-process (for coverage), capturing what it writes. */
async function runMain(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const writeOut = process.stdout.write;
  const writeErr = process.stderr.write;
  process.stdout.write = ((c: string | Uint8Array) => out.push(String(c)) > 0) as typeof process.stdout.write;
  process.stderr.write = ((c: string | Uint8Array) => err.push(String(c)) > 0) as typeof process.stderr.write;
  process.exitCode = 0;
  try {
    await main(argv, ROOT);
  } finally {
    process.stdout.write = writeOut;
    process.stderr.write = writeErr;
  }
  const code = Number(process.exitCode ?? 0);
  process.exitCode = 0;
  return { code, stdout: out.join(''), stderr: err.join('') };
}

t.test('-h works like --help on every command', async (t) => {
  t.same(normalizeArgv(['render', '-h']), ['render', '--help']);
  t.same(normalizeArgv(['render', '--', '-h']), ['render', '--', '-h'], 'not after --');
  for (const id of COMMANDS) {
    const short = await runMain([id, '-h']);
    const long = await runMain([id, '--help']);
    t.equal(short.code, 0, `${id} -h: ${short.stderr}`);
    t.match(short.stdout, /USAGE/, `${id} -h prints help`);
    t.equal(short.stdout, long.stdout, `${id}: -h and --help print the same`);
  }
});

t.test('a misspelt command or flag: one line with a did-you-mean, the usage line, exit 2', async (t) => {
  const command = await runMain(['rendr']);
  t.equal(command.code, 2);
  t.equal(command.stdout, '');
  t.match(
    command.stderr,
    /^Error: unknown command "rendr"; did you mean render\?\nUsage: meshwasm COMMAND \[FLAGS\] \(commands: .*render.*\)\n$/,
  );
  const cases: [string[], RegExp][] = [
    [
      ['render', '--taget', 'x'],
      /^Error: unknown flag --taget; did you mean --target\?\nUsage: meshwasm render \[FLAGS\]; see meshwasm render --help\n$/,
    ],
    [
      ['validate', '--mesh-versoin', 'x', 'f'],
      /^Error: unknown flag --mesh-versoin; did you mean --mesh-version\?\nUsage: meshwasm validate \[FILE\.\.\.\] \[FLAGS\]/,
    ],
    [
      ['push', 'r', '--insecur'],
      /^Error: unknown flag --insecur; did you mean --insecure\?\nUsage: meshwasm push REF \[FLAGS\]/,
    ],
    [['build', '--zzz'], /^Error: unknown flag --zzz\nUsage: meshwasm build \[FLAGS\]/],
    [
      ['dev', '--engin', 'envoy'],
      /^Error: unknown flag --engin; did you mean --engine\?\nUsage: meshwasm dev \[FLAGS\]/,
    ],
    [['render', '--namespace'], /^Error: Flag --namespace expects a value\nUsage: meshwasm render/],
    [
      ['build', '--format', 'zip'],
      /^Error: Expected --format=zip to be one of: compat, artifact\nUsage: meshwasm build/,
    ],
  ];
  for (const [argv, expected] of cases) {
    const r = await runMain(argv);
    t.equal(r.code, 2, argv.join(' '));
    t.equal(r.stdout, '', argv.join(' '));
    t.match(r.stderr, expected, argv.join(' '));
    t.ok(r.stderr.split('\n').length <= 3, `${argv.join(' ')}: two lines, not the whole help`);
  }
  const real = runCli(['render', '--taget', 'x'], { env: { MESHWASM_OCLIF: '1' } });
  t.equal(real.code, 2);
  t.match(real.stderr, /^Error: unknown flag --taget; did you mean --target\?\n/);
});

t.test('exit codes: 2 for a non-wasm file to push and a malformed --upstream', async (t) => {
  const notWasm = join(scratch, 'not.wasm');
  writeFileSync(notWasm, 'hello, not a module\n');
  const push = await runMain(['push', '127.0.0.1:1/team/filter:v1', '--wasm', notWasm, '--insecure']);
  t.equal(push.code, 2, push.stderr);
  t.match(push.stderr, /^Error: --wasm .*not\.wasm is not a WebAssembly module/);
  const dev = await runMain(['dev', '--upstream', 'http://user:pw@[bad', '--listen', '127.0.0.1:0']);
  t.equal(dev.code, 2, dev.stderr);
  t.match(
    dev.stderr,
    /^Error: --upstream: 'http:\/\/\*\*\*@\[bad' is not a valid URL; write it as http:\/\/127\.0\.0\.1:8442\n$/,
  );
  t.notMatch(dev.stderr, /pw|TypeError/, 'no credentials, no raw TypeError');
});

t.test('version and --version: meshwasm, the filter sha256 and ABI, Node; -o json', async (t) => {
  const text = runCli(['--version']);
  t.equal(text.code, 0, text.stderr);
  t.match(
    text.stdout,
    /^meshwasm 0\.\d+\.\d+\nfilter {3}.*plugin\.wasm\n {2}sha256 [0-9a-f]{64}\n {2}size {3}\d+\n {2}abi {4}0\.2\.\d\nnode {5}v\d+\.\d+\.\d+\n$/,
  );
  const json = await runMain(['version', '-o', 'json']);
  t.equal(json.code, 0);
  const version = JSON.parse(json.stdout);
  t.equal(version.node, process.version);
  t.match(version.wasm, { path: /plugin\.wasm$/, size: Number, sha256: /^[0-9a-f]{64}$/, abi: /^0\.2\.\d$/ });
  const validate = JSON.parse(
    runCli(['validate', join(ROOT, 'test', 'golden', 'default.yaml'), '-o', 'json']).stdout,
  );
  t.match(validate, { valid: true, resources: 1, problems: [] });
});

t.test('a reader that goes away ends the CLI quietly (render 2>&1 | head -1)', async (t) => {
  for (const oclif of ['0', '1']) {
    for (const args of [
      ['render', '--target', 'envoy-gateway'],
      ['render', '--taget', 'x'],
    ]) {
      // stdout and stderr on one pipe whose reader closes after the first line, like `2>&1 | head -1`.
      const result = await new Promise<{ code: number | null; first: string }>((resolve) => {
        const child = spawn(process.execPath, [join(ROOT, 'bin', 'run.js'), ...args], {
          env: cleanEnv({ MESHWASM_OCLIF: oclif }),
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let first = '';
        const onData = (chunk: Buffer) => {
          if (first) return;
          first = chunk.toString('utf8').split('\n')[0];
          child.stdout.destroy();
          child.stderr.destroy();
        };
        child.stdout.on('data', onData);
        child.stderr.on('data', onData);
        child.on('close', (code) => resolve({ code, first }));
      });
      t.ok(result.first.length > 0, `${args.join(' ')} (oclif=${oclif}): a first line`);
      t.ok(
        result.code === 0 || result.code === 2,
        `${args.join(' ')} (oclif=${oclif}): exit ${result.code}, not 1`,
      );
    }
  }
});

t.test('meshwasm build works from another folder (resolves asc and ~lib from its own root)', async (t) => {
  const out = join(scratch, 'build-out');
  const result = spawnSync(
    process.execPath,
    [join(ROOT, 'bin', 'run.js'), 'build', '--out', out, '-o', 'json'],
    {
      cwd: scratch,
      env: cleanEnv(),
      encoding: 'utf8',
    },
  );
  t.equal(result.status, 0, result.stderr);
  t.notMatch(result.stderr, /TS6054/);
  const built = JSON.parse(result.stdout);
  t.equal(built.wasm.path, join(out, 'plugin.wasm'));
  const inRepo = JSON.parse(runCli(['version', '-o', 'json']).stdout);
  t.equal(built.wasm.sha256, inRepo.wasm.sha256, 'the same module as the build in the repository');
});
