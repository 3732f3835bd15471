// `meshwasm validate` never calls broken input valid: empty input, unknown fields (strict, as the
// API server's fieldValidation=Strict), an EnvoyFilter that widens to the namespace, a bad
// port_value, a filter configuration without `cluster`, YAML aliases and merge keys; it takes what
// kubectl takes (several files, -f DIR, -R, other kinds in the bundle) and exits 2 on any finding.
// The field tables it is strict with are held against the upstream CRDs.
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { parseAllDocuments, stringify } from 'yaml';

import { LEAF, MAP, OPEN, SPEC_FIELDS, type FieldTree } from '../renderers/known-fields.js';
import { parseManifestText } from '../renderers/validate.js';
import { requireComponent } from './helpers/components.js';
import { ROOT, runCli, runCommand } from './helpers/render-run.js';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const scratch = mkdtempSync(join(tmpdir(), 'meshwasm-validate-strict-'));
const golden = (name: string): Obj[] =>
  parseManifestText(readFileSync(join(ROOT, 'test', 'golden', `${name}.yaml`), 'utf8'), name)
    .objects as Obj[];
const write = (name: string, content: string | Obj | Obj[]) => {
  const path = join(scratch, name);
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(
    path,
    typeof content === 'string'
      ? content
      : (Array.isArray(content) ? content : [content]).map((o) => stringify(o)).join('---\n'),
  );
  return path;
};
const edited = (name: string, index: number, edit: (o: Obj) => void): Obj => {
  const object = structuredClone(golden(name)[index]);
  edit(object);
  return object;
};

t.test('empty input is an error, not an empty values file', async (t) => {
  const empty = await runCommand('validate', [write('empty.yaml', '')]);
  t.equal(empty.code, 2);
  t.equal(empty.stdout, '');
  t.match(empty.stderr, /empty\.yaml: empty input, nothing to validate/);
  const comments = await runCommand('validate', [write('comments.yaml', '# nothing\n---\n')]);
  t.equal(comments.code, 2, 'only comments and separators: still empty');

  // The pipeline: a misspelt target makes render fail, validate gets nothing.
  const rendered = runCli(['render', '--target', 'osm']);
  t.equal(rendered.code, 2);
  const piped = runCli(['validate', '-'], { input: rendered.stdout });
  t.equal(piped.code, 2, piped.stderr);
  t.equal(piped.stdout, '');
  t.match(piped.stderr, /stdin: empty input/);
  const none = await runCommand('validate', []);
  t.equal(none.code, 2, 'no file at all');
  t.match(none.stderr, /FILE: give a file, a directory or - for stdin/);
});

t.test('unknown fields are errors, with a did-you-mean', async (t) => {
  const selectr = edited('default', 0, (o) => {
    o.spec.selectr = o.spec.selector;
    delete o.spec.selector;
  });
  const result = await runCommand('validate', [write('selectr.yaml', selectr)]);
  t.equal(result.code, 2);
  t.equal(result.stdout, '');
  t.match(
    result.stderr,
    /selectr\.yaml:1: WasmPlugin jump-app-dev\/meshwasm-back-golang: unknown field spec\.selectr; did you mean selector\?/,
  );
  const cases: [string, Obj, RegExp][] = [
    ['top level', edited('default', 0, (o) => (o.specc = {})), /unknown field specc; did you mean spec\?/],
    [
      'metadata',
      edited('default', 0, (o) => (o.metadata.label = { a: 'b' })),
      /unknown field metadata\.label; did you mean labels\?/,
    ],
    [
      'inside a list',
      edited('envoyfilter/sidecar-ossm-3.2', 0, (o) => (o.spec.configPatches[1].pach = {})),
      /unknown field spec\.configPatches\[1\]\.pach; did you mean patch\?/,
    ],
    [
      'EnvoyExtensionPolicy wasm entry',
      edited('envoy-gateway/route-eg-1.9', 0, (o) => (o.spec.wasm[0].rootId = 'meshwasm')),
      /unknown field spec\.wasm\[0\]\.rootId; did you mean rootID\?/,
    ],
    [
      'EnvoyPatchPolicy',
      edited('envoy-gateway/route-eg-1.9', 1, (o) => (o.spec.jsonPatch = [])),
      /unknown field spec\.jsonPatch; did you mean jsonPatches\?/,
    ],
  ];
  for (const [what, object, expected] of cases) {
    const r = await runCommand('validate', [write(`unknown-${what.replace(/ /g, '-')}.yaml`, object)]);
    t.equal(r.code, 2, what);
    t.match(r.stderr, expected, what);
  }
  const open = edited('default', 0, (o) => (o.spec.pluginConfig.extra = 1));
  t.match(
    (await runCommand('validate', [write('open.yaml', open)])).stderr,
    /spec\.pluginConfig: unknown key "extra"/,
    "pluginConfig is the filter schema's to judge, not the field table's",
  );
});

t.test('what a cluster would misapply: selector-less EnvoyFilter, port_value, no cluster', async (t) => {
  const cases: [string, Obj, RegExp][] = [
    [
      'no workloadSelector',
      edited('envoyfilter/sidecar-ossm-3.2', 0, (o) => delete o.spec.workloadSelector),
      /no workloadSelector or targetRefs, so it applies to every workload in the namespace/,
    ],
    [
      'port_value 99999',
      edited('envoyfilter/sidecar-url-istio-1.26', 0, (o) => {
        o.spec.configPatches[0].patch.value.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address.port_value = 99999;
      }),
      /spec\.configPatches\[0\]\.patch\.value\.load_assignment\.endpoints\[0\]\.lb_endpoints\[0\]\.endpoint\.address\.socket_address\.port_value: 99999 is not a port \(0-65535\)/,
    ],
    [
      'WasmPlugin config without cluster',
      edited('default', 0, (o) => delete o.spec.pluginConfig.cluster),
      /spec\.pluginConfig: cluster is missing/,
    ],
    [
      'EnvoyFilter config without cluster',
      edited('envoyfilter/sidecar-ossm-3.2', 0, (o) => {
        const typed = o.spec.configPatches[0].patch.value.typed_config;
        const config = JSON.parse(typed.config.configuration.value);
        delete config.cluster;
        typed.config.configuration.value = JSON.stringify(config);
      }),
      /configuration: cluster is missing/,
    ],
    [
      'EnvoyExtensionPolicy config without cluster',
      edited('envoy-gateway/route-eg-1.9', 0, (o) => delete o.spec.wasm[0].config.cluster),
      /spec\.wasm\[0\]\.config: cluster is missing/,
    ],
  ];
  for (const [what, object, expected] of cases) {
    const r = await runCommand('validate', [write(`misapply-${what.replace(/ /g, '-')}.yaml`, object)]);
    t.equal(r.code, 2, what);
    t.match(r.stderr, expected, what);
  }
});

t.test('several files, -f DIR, -R, and kinds meshwasm does not own', async (t) => {
  const dir = join(scratch, 'bundle');
  write('bundle/a-plugin.yaml', golden('default'));
  write('bundle/b-eg.yaml', golden('envoy-gateway/route-eg-1.9'));
  write('bundle/notes.txt', 'not a manifest');
  write('bundle/sub/c-filter.yml', golden('envoyfilter/sidecar-ossm-3.2'));
  const service = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'back-python', namespace: 'jump-app-dev' },
    spec: { ports: [{ port: 8444 }] },
  };
  const route = {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'HTTPRoute',
    metadata: { name: 'back-golang', namespace: 'jump-app-dev' },
    spec: { parentRefs: [{ name: 'eg' }], rules: [{ backendRefs: [{ name: 'back-golang', port: 8080 }] }] },
  };
  write(
    'bundle/sub/d-other.json',
    JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [service, route] }),
  );

  const flat = await runCommand('validate', ['-f', dir]);
  t.equal(flat.code, 0, flat.stderr);
  t.match(
    flat.stdout,
    /^valid: .*a-plugin\.yaml, .*b-eg\.yaml \(3 resources\)\n$/,
    'only the top-level .yaml files',
  );

  const deep = await runCommand('validate', ['-f', dir, '-R', '-o', 'json']);
  t.equal(deep.code, 0, deep.stderr);
  const report = JSON.parse(deep.stdout);
  t.equal(report.valid, true);
  t.equal(report.files.length, 4);
  t.equal(report.resources, 6);
  t.match(report.notes, [
    { message: /d-other\.json:1: Service jump-app-dev\/back-python \(v1\): not checked/ },
  ]);
  t.match(
    deep.stderr,
    /^note: .*Service jump-app-dev\/back-python \(v1\): not checked, meshwasm knows no schema/m,
  );

  const badRoute = structuredClone(route) as Obj;
  badRoute.spec.rules[0].backendRefs[0].port = 'eighty';
  const two = await runCommand('validate', [
    write('one.yaml', golden('default')),
    write('two.yaml', [service, badRoute]),
  ]);
  t.equal(two.code, 2, 'a known foreign kind is checked against its schema');
  t.match(two.stderr, /two\.yaml:\d+: HTTPRoute jump-app-dev\/back-golang: schema: .*port/);
  t.match(two.stderr, /one\.yaml, .*two\.yaml: 1 problem\n$/);

  const emptyDir = join(scratch, 'empty-dir');
  mkdirSync(join(emptyDir, 'sub', 'deeper'), { recursive: true });
  const noFiles = await runCommand('validate', [emptyDir]);
  t.equal(noFiles.code, 2);
  t.match(noFiles.stderr, /holds no \.yaml, \.yml or \.json files \(add -R for its subdirectories\)/);
  t.match((await runCommand('validate', ['-', '-'])).stderr, /- \(stdin\) can be given only once/);
});

t.test('aliases and merge keys are findings with file and line, not a ReferenceError', async (t) => {
  const alias = write('alias.yaml', 'a: &x 1\nb: *x\n');
  const r = await runCommand('validate', [alias]);
  t.equal(r.code, 2);
  t.match(r.stderr, /alias\.yaml:2:4: alias \*x is not supported/);
  t.notMatch(r.stderr, /ReferenceError/);
  const merge = write('merge.yaml', 'base: &b {a: 1}\nother:\n  <<: *b\n');
  const m = await runCommand('validate', [merge]);
  t.equal(m.code, 2);
  t.match(m.stderr, /merge\.yaml:3:3: merge key << is not supported/);
  const cli = runCli(['validate', alias]);
  t.equal(cli.code, 2);
  t.match(cli.stderr, /alias\.yaml:2:4: alias \*x/);
});

t.test('-o json on a failure: the report on stdout, exit 2', async (t) => {
  const r = await runCommand('validate', [
    write(
      'json-fail.yaml',
      edited('default', 0, (o) => (o.spec.url = '')),
    ),
    '-o',
    'json',
  ]);
  t.equal(r.code, 2);
  const report = JSON.parse(r.stdout);
  t.equal(report.valid, false);
  t.ok(
    report.problems.some(
      (p: Obj) =>
        p.file.endsWith('json-fail.yaml') && p.line === 1 && /spec\.url is required/.test(p.message),
    ),
    JSON.stringify(report.problems),
  );
});

/** The CRD's spec tree in known-fields.ts's terms. */
function crdTree(schema: Obj | undefined): FieldTree {
  if (!schema) return LEAF;
  if (schema['x-kubernetes-preserve-unknown-fields']) return OPEN;
  if (schema.type === 'array') return crdTree(schema.items);
  if (schema.properties)
    return Object.fromEntries(Object.entries(schema.properties).map(([k, v]) => [k, crdTree(v as Obj)]));
  if (schema.additionalProperties) return MAP;
  return LEAF;
}

/** Paths where `ours` says more or less than `crd`: OPEN in ours accepts whatever the CRD has. */
function treeDifferences(ours: FieldTree, crd: FieldTree, path: string): string[] {
  if (ours === OPEN) return [];
  if (typeof ours !== 'object' || typeof crd !== 'object')
    return ours === crd ? [] : [`${path}: ours ${JSON.stringify(ours)}, CRD ${JSON.stringify(crd)}`];
  const out: string[] = [];
  for (const key of new Set([...Object.keys(ours), ...Object.keys(crd)])) {
    if (!(key in ours)) out.push(`${path}.${key}: in the CRD, missing here`);
    else if (!(key in crd)) out.push(`${path}.${key}: not in the CRD`);
    else out.push(...treeDifferences(ours[key], crd[key], `${path}.${key}`));
  }
  return out;
}

t.test('the strict field tables are exactly the upstream CRDs', async (t) => {
  const crds = requireComponent(t, 'crds');
  if (!crds) return;
  const files: Record<string, [string, string]> = {
    WasmPlugin: ['istio/crd-all.gen.yaml', 'v1alpha1'],
    EnvoyFilter: ['istio/crd-all.gen.yaml', 'v1alpha3'],
    EnvoyExtensionPolicy: ['envoy-gateway/gateway.envoyproxy.io_envoyextensionpolicies.yaml', 'v1alpha1'],
    EnvoyPatchPolicy: ['envoy-gateway/gateway.envoyproxy.io_envoypatchpolicies.yaml', 'v1alpha1'],
  };
  t.same(Object.keys(SPEC_FIELDS).sort(), Object.keys(files).sort());
  for (const [kind, [file, version]] of Object.entries(files)) {
    // Envoy Gateway's files are Helm templates whose only template lines are whole {{- … }} lines.
    const text = readFileSync(join(crds, file), 'utf8')
      .split('\n')
      .filter((line) => !/^\s*\{\{-?.*\}\}\s*$/.test(line))
      .join('\n');
    const crd = parseAllDocuments(text)
      .map((d) => d.toJS() as Obj)
      .find((d) => d?.spec?.names?.kind === kind);
    const schema = crd?.spec.versions.find((v: Obj) => v.name === version)?.schema.openAPIV3Schema;
    t.ok(schema, `${kind} ${version} in ${file}`);
    t.same(treeDifferences(SPEC_FIELDS[kind], crdTree(schema?.properties.spec), 'spec'), [], kind);
  }
});
