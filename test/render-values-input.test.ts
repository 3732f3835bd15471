// A values file (and any file validate reads) is judged in our words, with line and column: more
// than one document, bad YAML, duplicate keys, aliases, invalid UTF-8, oversized input; a huge
// value is cut in the message, not echoed back whole.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';

import { MAX_INPUT_BYTES } from '../cli/lib/input.js';
import { SHOW_LIMIT } from '../renderers/value-types.js';
import { readYaml } from '../renderers/yaml-read.js';
import { runCli, runCommand, runLean } from './helpers/render-run.js';

const scratch = mkdtempSync(join(tmpdir(), 'meshwasm-values-input-'));
const file = (name: string, content: string | Buffer) => {
  const path = join(scratch, name);
  writeFileSync(path, content);
  return path;
};

const cases: [string, string | Buffer, RegExp][] = [
  [
    'multi.yaml',
    'target: ossm\n---\ntarget: envoyfilter\n',
    /^Error: --values: .*multi\.yaml:2:1: a second YAML document starts here; a values file is one mapping \(drop the ---\); fix the file or see --print-values\n$/,
  ],
  [
    'bad.yaml',
    'target: ossm\nnamespace: [a\n',
    /^Error: --values: .*bad\.yaml:3:1: Flow sequence in block collection must be sufficiently indented and end with a \]; fix the file/,
  ],
  [
    'twice.yaml',
    'target: ossm\nnamespace: a\nnamespace: b\n',
    /^Error: --values: .*twice\.yaml:3:1: key "namespace" appears twice \(first on line 2\); keep one;/,
  ],
  [
    'alias.yaml',
    'namespace: &n jump\nworkload: *n\n',
    /^Error: --values: .*alias\.yaml:2:11: alias \*n is not supported; write the value out in full;/,
  ],
  [
    'latin1.yaml',
    Buffer.concat([Buffer.from('target: ossm\nworkload: caf'), Buffer.from([0xe9]), Buffer.from('\n')]),
    /^Error: --values: .*latin1\.yaml:2:14 is not UTF-8 text \(byte 0xe9\); save the file as UTF-8\n$/,
  ],
];

t.test('values-file problems: our words, line and column, one line, exit 2', async (t) => {
  for (const [name, content, expected] of cases) {
    const path = file(name, content);
    const lean = await runLean(['-f', path]);
    t.ok(lean.handled, name);
    t.equal(lean.code, 2, name);
    t.equal(lean.stdout, '', name);
    t.match(lean.stderr, expected, name);
    t.notMatch(lean.stderr, /parseAllDocuments|column \d+:\n|\n.*\n/, `${name}: no library text, one line`);
  }
  const cli = runCli(['render', '-f', file('multi.yaml', 'a: 1\n---\nb: 2\n')]);
  t.equal(cli.code, 2);
  t.match(cli.stderr, /multi\.yaml:2:1: a second YAML document/);
  t.notMatch(cli.stderr, /parseAllDocuments/);
});

t.test('a genuine U+FFFD in the file is text, not an encoding error', async (t) => {
  const path = file('fffd.yaml', 'calloutPath: "/\uFFFD"\n');
  const r = await runLean(['-f', path]);
  t.notMatch(r.stderr, /not UTF-8/);
  const late = Buffer.concat([Buffer.from('calloutPath: "/\uFFFD"\nworkload: x'), Buffer.from([0xff])]);
  t.match(
    (await runLean(['-f', file('late.yaml', late)])).stderr,
    /late\.yaml:2:12 is not UTF-8 text \(byte 0xff\)/,
  );
  const v = await runCommand('validate', [file('bad-utf8.yaml', Buffer.from([0x61, 0x3a, 0x20, 0xc3]))]);
  t.equal(v.code, 2);
  t.match(v.stderr, /^Error: FILE: .*bad-utf8\.yaml:1:4 is not UTF-8 text \(byte 0xc3\)/);
});

t.test('a huge value is cut in the message; a huge file is refused up front', async (t) => {
  const value = 'x'.repeat(2 * 1024 * 1024);
  const r = await runLean(['-f', file('huge-value.yaml', `namespace: ${value}\n`)]);
  t.equal(r.code, 2);
  t.ok(r.stderr.length < SHOW_LIMIT + 400, `message is ${r.stderr.length} characters`);
  t.match(r.stderr, /namespace in .*huge-value\.yaml \(--namespace\): "x+"… \(2097152 characters\)/);

  const flag = await runLean(['--workload', `Bad_${'y'.repeat(100_000)}`]);
  t.equal(flag.code, 2);
  t.ok(flag.stderr.length < SHOW_LIMIT + 400, 'a long flag value is cut too');

  const big = file('big.yaml', Buffer.alloc(MAX_INPUT_BYTES + 1, 0x20));
  const tooBig = await runLean(['-f', big]);
  t.equal(tooBig.code, 2);
  t.match(tooBig.stderr, /^Error: --values: .*big\.yaml is larger than 8 MiB/);
  const viaStdin = runCli(['validate', '-'], { input: ' '.repeat(MAX_INPUT_BYTES + 1) });
  t.equal(viaStdin.code, 2);
  t.match(viaStdin.stderr, /^Error: FILE: stdin is larger than 8 MiB/);
});

t.test('many keys: every duplicate found, by line, in one pass', async (t) => {
  const keys = Array.from({ length: 40_000 }, (_, i) => `k${i}: ${i}`);
  keys.push('k7: again', 'k39999: again');
  const { findings } = readYaml(`${keys.join('\n')}\n`);
  t.same(
    findings.map((f) => [f.line, f.message]),
    [
      [40001, 'key "k7" appears twice (first on line 8); keep one'],
      [40002, 'key "k39999" appears twice (first on line 40000); keep one'],
    ],
  );
  const r = await runLean(['-f', file('many.yaml', `${keys.slice(0, 40_000).join('\n')}\n`)]);
  t.equal(r.code, 2, 'the 40k-key file itself gets an answer');
  t.match(r.stderr, /unknown key "k0"/);
});
