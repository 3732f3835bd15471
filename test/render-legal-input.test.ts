// Odd but legal input gets a result: the same canonical output as its ordinary twin, never a
// "meshwasm bug", never a silently dropped entry, never a raw system error.
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';

import { TARGETS } from '../renderers/settings.js';
import { formatValues } from '../renderers/values-file.js';
import { resolveValues } from '../renderers/values.js';
import { runCommand, runLean } from './helpers/render-run.js';

const scratch = mkdtempSync(join(tmpdir(), 'meshwasm-legal-'));
t.teardown(() => import('node:fs').then((fs) => fs.rmSync(scratch, { recursive: true, force: true })));

const valuesFile = (name: string, text: string): string => {
  const path = join(scratch, name);
  writeFileSync(path, text);
  return path;
};

t.test('-0 and -1e-400 render exactly as 0 on every target, from flags, env and files', async (t) => {
  const zeroes: Array<{ flag: string; env: string; key: string; value: string; blocking?: boolean }> = [
    { flag: '--sample-rate', env: 'MESHWASM_SAMPLE_RATE', key: 'sampleRate', value: '-0' },
    { flag: '--sample-rate', env: 'MESHWASM_SAMPLE_RATE', key: 'sampleRate', value: '-1e-400' },
    { flag: '--fan-out', env: 'MESHWASM_FAN_OUT', key: 'fanOut', value: '-0' },
    { flag: '--failure-status', env: 'MESHWASM_FAILURE_STATUS', key: 'failureStatus', value: '-0' },
  ];
  for (const target of TARGETS) {
    for (const z of zeroes) {
      const base = ['--target', target];
      const expected = await runCommand('render', [...base, `${z.flag}=0`]);
      t.equal(expected.code, 0, `${target} ${z.flag}=0 renders`);
      const ways = {
        flag: await runCommand('render', [...base, `${z.flag}=${z.value}`]),
        lean: await runLean([...base, `${z.flag}=${z.value}`]),
        env: await runCommand('render', base, { [z.env]: z.value }),
        file: await runCommand('render', [
          ...base,
          '-f',
          valuesFile(`zero-${z.key}.yaml`, `${z.key}: ${z.value}\n`),
        ]),
      };
      for (const [way, got] of Object.entries(ways)) {
        t.equal(got.code, 0, `${target} ${z.key}=${z.value} (${way}) exits 0: ${got.stderr.split('\n')[0]}`);
        t.equal(got.stdout, expected.stdout, `${target} ${z.key}=${z.value} (${way}) renders as 0`);
      }
    }
  }
  const printed = formatValues(resolveValues({ flags: { sampleRate: '-0' } }));
  t.match(printed, /^sampleRate: 0$/m, '--print-values writes the canonical 0');
});

t.test('a callout header named __proto__ is rendered, not dropped', async (t) => {
  const file = valuesFile('proto.yaml', 'calloutHeaders:\n  __proto__: from-file\n  x-b: "2"\n');
  for (const target of TARGETS) {
    const flag = await runCommand('render', [
      '--target',
      target,
      '--callout-header',
      '__proto__=from-flag',
      '--callout-header',
      'x-a=1',
    ]);
    t.equal(flag.code, 0, flag.stderr);
    t.match(flag.stdout, '"headers": {"__proto__": "from-flag", "x-a": "1"}', `${target}: from a flag`);
    const fromFile = await runCommand('render', ['--target', target, '-f', file]);
    t.equal(fromFile.code, 0, fromFile.stderr);
    t.match(fromFile.stdout, '"headers": {"__proto__": "from-file", "x-b": "2"}', `${target}: from a file`);
  }
  const { values } = resolveValues({ flags: { calloutHeaders: ['__proto__=x'] } });
  t.same(Object.keys(values.calloutHeaders), ['__proto__'], 'an own key, not the prototype');
  t.equal(Object.getPrototypeOf(values.calloutHeaders), Object.prototype, 'prototype untouched');
  const printed = formatValues(resolveValues({ flags: { calloutHeaders: ['__proto__=x'] } }));
  t.match(printed, /^calloutHeaders:\n {2}__proto__: x$/m, '--print-values keeps it');
});

/** A valid DNS-1123 subdomain of `length` characters (labels of 63 joined by dots). */
function longName(length: number): string {
  const labels: string[] = [];
  let left = length;
  while (left > 0) {
    const size = Math.min(63, left - (labels.length ? 1 : 0));
    labels.push('g'.repeat(size));
    left -= size + (labels.length > 1 ? 1 : 0);
  }
  return labels.join('.');
}

t.test('a 253-character --gateway gives names that fit, or exit 2 with the limit', async (t) => {
  const gateway = longName(253);
  t.equal(gateway.length, 253);
  for (const target of ['ossm', 'envoy-gateway']) {
    const run = await runCommand('render', [
      '--target',
      target,
      '--shape',
      'gateway-api',
      '--gateway',
      gateway,
    ]);
    t.equal(run.code, 0, `${target}: ${run.stderr.split('\n')[0]}`);
    t.notMatch(run.stderr, /meshwasm bug/);
    const names = [...run.stdout.matchAll(/^ {2}name: (\S+)$/gm)].map((m) => m[1]);
    t.ok(names.length > 0);
    for (const name of names) t.ok(name.length <= 52, `${target}: ${name} fits`);
    t.match(run.stdout, new RegExp(`name: meshwasm-g{34}-[0-9a-f]{8}\n`), 'prefix, start of the name, hash');
    t.match(run.stdout, gateway, 'the Gateway itself is still targeted by its full name');
  }
  // Two long names that share their start still get different resource names.
  const other = `${gateway.slice(0, -1)}h`;
  // One after the other: in-process runs capture the process's stdout, so they cannot overlap.
  const a = await runCommand('render', ['--target', 'ossm', '--shape', 'gateway-api', '--gateway', gateway]);
  const b = await runCommand('render', ['--target', 'ossm', '--shape', 'gateway-api', '--gateway', other]);
  t.not(/name: (meshwasm-\S+)/.exec(a.stdout)![1], /name: (meshwasm-\S+)/.exec(b.stdout)![1]);

  const envoyfilter = await runCommand('render', [
    '--target',
    'envoyfilter',
    '--shape',
    'gateway-api',
    '--gateway',
    gateway,
  ]);
  t.equal(envoyfilter.code, 2, 'envoyfilter selects by the gateway-name label, which cannot hold it');
  t.match(envoyfilter.stderr, /^Error: --gateway: .*at most 63 characters/);
  t.equal(envoyfilter.stdout, '');

  const short = await runCommand('render', ['--target', 'ossm', '--shape', 'gateway-api', '--gateway', 'gw']);
  t.match(short.stdout, 'name: meshwasm-gw\n', 'short names are derived as before');
});

t.test('a 242-character --gateway with --output-dir writes files, no ENAMETOOLONG', async (t) => {
  for (const target of ['ossm', 'envoy-gateway']) {
    const dir = join(scratch, `out-${target}`);
    const run = await runCommand('render', [
      '--target',
      target,
      '--shape',
      'gateway-api',
      '--gateway',
      longName(242),
      '--output-dir',
      dir,
      '-o',
      'json',
    ]);
    t.equal(run.code, 0, run.stderr.split('\n')[0]);
    t.notMatch(run.stderr, /ENAMETOOLONG/);
    const files = readdirSync(dir);
    t.ok(files.length >= 2, `${target}: ${files.join(', ')}`);
    for (const file of files) t.ok(Buffer.byteLength(file) <= 255, `${file} is a legal file name`);
  }
});
