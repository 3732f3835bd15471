// The one YAML encoder: every string it prints must read back as the same string under YAML 1.2
// (eemeli/yaml, render's parse-back) and YAML 1.1 (the go-yaml behind kubectl/oc), and the
// template guard must refuse any way of printing a value other than {{yaml …}}.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { parse } from 'yaml';

import { assertOnlyEncodedOutput, compileTemplate } from '../renderers/templates.js';
import {
  block,
  canonicalJson,
  inline,
  literal,
  quoted,
  scalar,
  Verbatim,
  yamlHelper,
} from '../renderers/yaml-encode.js';
import { HOSTILE } from './helpers/hostile.js';
import { ROOT } from './helpers/render-run.js';

const both = (text: string) => [parse(text, { version: '1.2' }), parse(text, { version: '1.1' })];

t.test('scalar() round-trips hostile strings under YAML 1.2 and 1.1', async (t) => {
  for (const s of HOSTILE) {
    for (const [i, value] of both(`k: ${scalar(s)}\n`).entries())
      t.equal((value as { k: unknown }).k, s, `${quoted(s)} as YAML 1.${2 - i}`);
  }
});

t.test('scalar() keeps plain only what is unambiguous', async (t) => {
  t.equal(scalar('back-golang'), 'back-golang');
  t.equal(
    scalar('outbound|8444||back-python.ns.svc.cluster.local'),
    'outbound|8444||back-python.ns.svc.cluster.local',
  );
  t.equal(scalar('yes'), '"yes"');
  t.equal(scalar('8444'), '"8444"');
  t.equal(
    scalar('9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08'),
    '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08',
    'a digest stays plain',
  );
  t.equal(scalar('123e4567'), '"123e4567"', 'digits with only an e would be a float');
  t.equal(scalar('12345678'), '"12345678"');
  t.equal(scalar('0b101'), '"0b101"', 'a YAML 1.1 binary integer');
  t.equal(scalar('0b1c'), '0b1c');
  t.equal(scalar('\u0085'), '"\\u0085"', 'NEL is escaped: YAML 1.1 reads it as a line break');
  t.equal(scalar(8444), '8444');
  t.equal(scalar(true), 'true');
  t.equal(scalar(null), 'null');
  t.throws(() => scalar(Number.NaN), /cannot encode NaN/);
  t.throws(() => scalar(undefined), /not a scalar/);
});

// A small deterministic PRNG so a failure names a reproducible input.
function prng(seed: number) {
  return () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x7fffffff;
  };
}

t.test('random hex words round-trip', async (t) => {
  const random = prng(7);
  const hex = '0123456789abcdef';
  // Mostly digits, so numbers, exponents and 0b binaries come up often.
  for (let i = 0; i < 2000; i++) {
    const s = Array.from(
      { length: 1 + Math.floor(random() * 10) },
      () => hex[Math.floor(random() * (random() < 0.7 ? 10 : 16))],
    ).join('');
    for (const value of both(`k: ${scalar(s)}\n`))
      if ((value as { k: unknown }).k !== s) t.fail(`round-trip of ${s} as ${scalar(s)}`);
  }
  t.pass('2000 hex words');
});

t.test('a long hex run that is not a hex word encodes in one pass', async (t) => {
  // The old single hex-word pattern backtracked quadratically here: 80k characters took seconds
  // in --print-values, and this million-character string would not finish within tap's timeout.
  for (const s of [`${'a'.repeat(1_000_000)}!`, `${'a'.repeat(1_000_000)} `, `1${'a'.repeat(1_000_000)}G`])
    t.equal(scalar(s), quoted(s), `${s.length} characters ending ${JSON.stringify(s.at(-1))} are quoted`);
  const word = `1${'d'.repeat(1_000_000)}`;
  t.equal(scalar(word), word, 'a long hex word stays plain');
});

t.test('random strings over YAML-meaningful characters round-trip', async (t) => {
  const alphabet = [
    ...'abcXYZ019 :#-?&*!|>\'"%@`{}[],.\\/~=+<\t\n',
    '\u0085',
    '\u2028',
    '\u00e9',
    '😀',
    '\u0000',
    '\u007f',
  ];
  const random = prng(42);
  let failures = 0;
  for (let i = 0; i < 2000; i++) {
    const length = Math.floor(random() * 12);
    const s = Array.from({ length }, () => alphabet[Math.floor(random() * alphabet.length)]).join('');
    for (const value of both(`k: ${scalar(s)}\n`)) {
      if ((value as { k: unknown }).k !== s) {
        failures++;
        t.fail(`round-trip of ${quoted(s)}`);
      }
    }
  }
  t.equal(failures, 0, '2000 random strings');
});

t.test('block() writes nested data that reads back equal', async (t) => {
  const data = {
    labels: Object.fromEntries(
      HOSTILE.slice(0, 30).map((s, i) => [s === '' ? `k${i}` : s, HOSTILE[HOSTILE.length - 1 - i]]),
    ),
    list: [{ a: 1, b: [1, 'two', { c: null }] }, [], {}, [['nested']], 'yes', 0, false],
    empty: {},
    none: [],
  };
  const text = block(data, 0).join('\n');
  for (const value of both(`${text}\n`)) t.same(value, data);
  t.match(block({ a: [1] }, 2), ['  a:', '  - 1'], 'a sequence sits at its key column');
  t.match(block({ a: { b: 1 } }, 0), ['a:', '  b: 1'], 'a mapping 2 deeper');
  t.throws(() => block('x', 0), /needs a mapping or a sequence/);
  t.throws(() => inline({ a: 1 }), /block form/);
  t.equal(inline([]), '[]');
  t.equal(inline({}), '{}');
});

t.test('canonicalJson(): sorted keys, stable bytes, valid JSON and YAML', async (t) => {
  const a = { z: 1, a: { y: ['x', { q: 'yes' }], b: 'a: b#c' }, m: '\u0085\u2028😀' };
  const b = { m: '\u0085\u2028😀', a: { b: 'a: b#c', y: ['x', { q: 'yes' }] }, z: 1 };
  t.equal(canonicalJson(a), canonicalJson(b), 'key order does not matter');
  t.equal(canonicalJson({ b: 1, a: [1, 2] }), '{"a": [1, 2], "b": 1}');
  t.same(JSON.parse(canonicalJson(a)), a);
  for (const value of both(`k: ${canonicalJson(a)}\n`))
    t.same((value as { k: unknown }).k, a, 'as a YAML flow mapping');
  t.equal(canonicalJson({ gone: undefined, kept: 0 }), '{"kept": 0}');
});

t.test('Verbatim/literal(): the text appears byte for byte', async (t) => {
  const json = canonicalJson({ path: '/jump?x=a: b#c', h: { 'x-q': '"q" \'s\'' } });
  const lines = block({ value: new Verbatim(json) }, 4);
  t.equal(lines[0], '    value: |-');
  t.equal(lines[1], `      ${json}`, 'the JSON line itself is in the manifest');
  for (const value of both(`${lines.join('\n')}\n`)) t.equal((value as { value: unknown }).value, json);
  for (const awkward of [' leading', 'trailing ', '', 'a\u0001b', 'x\u2028y']) {
    t.equal(literal(awkward, 2), quoted(awkward), `${quoted(awkward)} falls back to quotes`);
  }
  t.equal(inline(new Verbatim('a b')), '"a b"');
  t.equal(canonicalJson(new Verbatim('x')), '"x"');
});

t.test('the handlebars helper', async (t) => {
  t.equal(yamlHelper('yes', { hash: {} }), '"yes"');
  t.equal(yamlHelper({ a: 'b' }, { hash: { at: 2 } }), '\n    a: b');
  t.equal(yamlHelper(['a'], { hash: { at: 2 } }), '\n  - a');
  t.equal(yamlHelper('x', { hash: { at: 2 } }), ' x');
  t.equal(yamlHelper({}, { hash: { at: 2 } }), ' {}');
  t.equal(yamlHelper({ b: 1, a: 2 }, { hash: { json: true } }), '{"a": 2, "b": 1}');
});

t.test('templates can print values only through {{yaml …}}', async (t) => {
  for (const bad of [
    'a: {{x}}',
    'a: {{{x}}}',
    'a: {{yaml}}',
    '{{> partial}}',
    '{{#custom x}}y{{/custom}}',
    '{{#if x}}{{x}}{{/if}}',
    '{{#each xs}}{{else}}{{@index}}{{/each}}',
  ]) {
    t.throws(() => assertOnlyEncodedOutput(bad, 'bad.hbs'), /bad\.hbs/, `refuses ${bad}`);
  }
  t.doesNotThrow(() =>
    assertOnlyEncodedOutput(
      '{{! comment }}a: {{yaml x}}\n{{#if y}}b:{{yaml y at=0}}{{else}}c{{/if}}',
      'ok.hbs',
    ),
  );
  const template = compileTemplate('k: {{yaml v}}\n', 'inline.hbs');
  t.equal(template({ v: 'a: b' }), 'k: "a: b"\n', 'values are encoded, not HTML-escaped');
  t.throws(() => template({}), /not a scalar/, 'a missing field throws instead of printing nothing');

  const dir = join(ROOT, 'renderers');
  const templates = (readdirSync(dir, { recursive: true }) as string[]).filter((f) => f.endsWith('.hbs'));
  t.ok(templates.length >= 4, `${templates.length} shipped templates`);
  for (const file of templates)
    t.doesNotThrow(
      () => assertOnlyEncodedOutput(readFileSync(join(dir, file), 'utf8'), file),
      `renderers/${file} passes the guard`,
    );
});
