// Hostile values through the whole render, on every target: strings full of YAML syntax, names
// that YAML 1.1 would read as booleans or numbers, and template syntax must come out as data,
// equal to the input, under YAML 1.2 and 1.1 — never as extra keys, documents or resources.
import t from 'tap';
import { parseAllDocuments } from 'yaml';

import { formatYaml, render } from '../renderers/render.js';
import { resolveValues } from '../renderers/values.js';
import { quoted } from '../renderers/yaml-encode.js';
import { HOSTILE } from './helpers/hostile.js';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const TARGETS = ['ossm', 'envoyfilter', 'envoy-gateway'] as const;
// Legal where meshwasm accepts free text: header values (no CR/LF/controls), body (anything), authority, path.
// eslint-disable-next-line no-control-regex -- the point is to find control characters
const headerSafe = HOSTILE.filter((s) => !/[\u0000-\u0008\u000a-\u001f\u007f]/.test(s));

function docs(text: string, version: '1.1' | '1.2'): Obj[] {
  return parseAllDocuments(text, { version }).map((d) => {
    if (d.errors.length > 0) throw new Error(d.errors[0].message);
    return d.toJS() as Obj;
  });
}

function filterConfig(doc: Obj): Obj {
  if (doc.kind === 'WasmPlugin') return doc.spec.pluginConfig;
  if (doc.kind === 'EnvoyExtensionPolicy') return doc.spec.wasm[0].config;
  const patch = doc.spec.configPatches.find((p: Obj) => p.patch.value.typed_config?.config);
  return JSON.parse(patch.patch.value.typed_config.config.configuration.value);
}

t.test('hostile free text comes back as the same data on every target', async (t) => {
  const body = HOSTILE.join('\n');
  const paths = [
    '/jump?x=a: b#c',
    '/q?a=\'1\'&b="2"',
    '/--- \'"{}[]&*!|>%@`',
    '/😀?ü=1#frag',
    '/ '.repeat(3),
  ];
  for (const target of TARGETS) {
    for (const [i, path] of paths.entries()) {
      // The schema allows 64 headers; spread the hostile values over the renders.
      const values = headerSafe.filter((_, j) => j % paths.length === i);
      const headers = values.map((value, j) => `x-h${j}=${value}`);
      const result = await render(
        resolveValues({
          flags: {
            target,
            calloutPath: path,
            calloutHeaders: headers,
            calloutBody: body,
            calloutAuthority: 'yes: no # x',
          },
        }),
      );
      const text = formatYaml(result.documents);
      for (const version of ['1.2', '1.1'] as const) {
        const parsed = docs(text, version);
        t.equal(
          parsed.length,
          result.documents.length,
          `${target} ${quoted(path)} YAML ${version}: no extra documents`,
        );
        const config = filterConfig(parsed[0]);
        t.equal(config.path, path, `${target} ${quoted(path)} YAML ${version}: path`);
        t.equal(config.body, body, 'body');
        t.equal(config.authority, 'yes: no # x', 'authority');
        t.same(
          config.headers,
          Object.fromEntries(values.map((value, j) => [`x-h${j}`, value])),
          'every header value',
        );
        t.same(
          Object.keys(parsed[0]),
          ['apiVersion', 'kind', 'metadata', 'spec'],
          'no injected top-level keys',
        );
      }
    }
  }
});

t.test('names and labels that YAML 1.1 would read as booleans, nulls or numbers stay strings', async (t) => {
  // All valid DNS-1123 names / label values.
  for (const word of [
    'yes',
    'no',
    'on',
    'off',
    'y',
    'n',
    'true',
    'null',
    'nan',
    'inf',
    'e5',
    '0123',
    '1e3',
    '0x1f',
    '0b101',
    '12345',
  ]) {
    for (const target of TARGETS) {
      const route = target === 'envoy-gateway';
      const flags: Record<string, unknown> = {
        target,
        namespace: word,
        workload: /^\d/.test(word) ? `w${word}` : word,
        calloutNamespace: word,
        pluginName: `p-${word}`,
      };
      if (route) flags.gateway = word;
      else flags.selector = `app=${word},version=${word}`;
      const result = await render(resolveValues({ flags }));
      for (const version of ['1.2', '1.1'] as const) {
        const [main] = docs(formatYaml(result.documents), version);
        t.equal(main.metadata.namespace, word, `${target} ${word} YAML ${version}: namespace`);
        if (route)
          t.equal(
            (docs(formatYaml(result.documents), version)[1] as Obj).spec.targetRef.name,
            word,
            'gateway name',
          );
        else if (target === 'ossm')
          t.same(main.spec.selector.matchLabels, { app: word, version: word }, 'selector labels');
        else
          t.same(main.spec.workloadSelector.labels, { app: word, version: word }, 'workload selector labels');
      }
    }
  }
});

t.test('template syntax in values is printed, not evaluated', async (t) => {
  const result = await render(
    resolveValues({
      flags: {
        calloutHeaders: ['x-t={{yaml name}}', 'x-u={{#each x}}y{{/each}}'],
        calloutBody: '{{> partial}}',
      },
    }),
  );
  const [main] = docs(formatYaml(result.documents), '1.2');
  t.same(main.spec.pluginConfig.headers, { 'x-t': '{{yaml name}}', 'x-u': '{{#each x}}y{{/each}}' });
  t.equal(main.spec.pluginConfig.body, '{{> partial}}');
});
