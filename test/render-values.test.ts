// Resolving render values: precedence flag > MESHWASM_* env > values file > default, errors that
// name where the bad value came from, derived defaults, and --print-values files that render the
// same thing when read back with -f.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';

import { UsageError } from '../renderers/errors.js';
import { envName, SETTINGS } from '../renderers/settings.js';
import { resolveValues } from '../renderers/values.js';
import { clientRequest, loadFilter } from './helpers/filter-host.js';
import { ROOT, runCommand } from './helpers/render-run.js';

const problem = (fn: () => unknown): string => {
  try {
    fn();
  } catch (error) {
    if (error instanceof UsageError) return error.message;
    throw error;
  }
  throw new Error('expected a UsageError');
};

t.test('defaults are the reference scenario', async (t) => {
  const { values } = resolveValues({});
  t.match(values, {
    target: 'ossm',
    meshVersion: 'ossm-3.2',
    shape: 'sidecar',
    namespace: 'jump-app-dev',
    workload: 'back-golang',
    calloutService: 'back-python',
    calloutNamespace: 'jump-app-dev',
    calloutPort: 8444,
    calloutPath: '/jump',
    calloutMethod: 'GET',
    mode: 'async',
    pluginName: 'meshwasm-back-golang',
    phase: 'STATS',
  });
  t.equal(
    resolveValues({ flags: { target: 'envoy-gateway' } }).values.shape,
    'route',
    'envoy-gateway defaults to the route shape',
  );
  t.equal(resolveValues({ flags: { target: 'envoy-gateway' } }).values.meshVersion, 'eg-1.9');
  t.equal(
    resolveValues({ flags: { target: 'envoyfilter' } }).values.phase,
    undefined,
    'phase is a WasmPlugin default only',
  );
});

t.test('filter settings default to config.schema.json', async (t) => {
  const schema = JSON.parse(readFileSync(join(ROOT, 'filter', 'config.schema.json'), 'utf8')) as {
    properties: Record<string, { default?: unknown }>;
  };
  const { values } = resolveValues({});
  for (const setting of SETTINGS.filter(
    (s) => s.filterKey && schema.properties[s.filterKey!].default !== undefined,
  )) {
    t.same(
      (values as unknown as Record<string, unknown>)[setting.key],
      schema.properties[setting.filterKey!].default,
      `${setting.key} = schema default of ${setting.filterKey}`,
    );
  }
});

t.test('precedence: flag > env > file > default', async (t) => {
  const file = { name: 'v.yaml', data: { calloutPort: 1001, namespace: 'from-file', calloutPath: '/file' } };
  const env = { MESHWASM_CALLOUT_PORT: '1002', MESHWASM_CALLOUT_PATH: '/env' };
  const { values, sources } = resolveValues({ flags: { calloutPort: '1003' }, env, file });
  t.equal(values.calloutPort, 1003, 'flag wins');
  t.equal(values.calloutPath, '/env', 'env beats the file');
  t.equal(values.namespace, 'from-file', 'file beats the default');
  t.equal(values.calloutNamespace, 'from-file', 'derived defaults follow what they derive from');
  t.same(sources.calloutPort, { kind: 'flag' });
  t.same(sources.calloutPath, { kind: 'env' });
  t.same(sources.namespace, { kind: 'file', file: 'v.yaml' });
  t.same(sources.workload, { kind: 'default' });
  t.equal(
    resolveValues({ env: { MESHWASM_CALLOUT_PORT: '' } }).values.calloutPort,
    8444,
    'an empty env var is unset',
  );
});

t.test('errors name the flag, env var or file key, and the fix', async (t) => {
  t.equal(
    problem(() => resolveValues({ flags: { calloutPort: '70000' } })),
    '--callout-port: 70000 is out of range; use a port between 1 and 65535',
  );
  t.equal(
    problem(() => resolveValues({ env: { MESHWASM_CALLOUT_PORT: 'http' } })),
    'MESHWASM_CALLOUT_PORT (--callout-port): "http" is not a port; use one between 1 and 65535',
  );
  t.match(
    problem(() => resolveValues({ file: { name: 'v.yaml', data: { namespace: 'Bad_NS' } } })),
    /^namespace in v\.yaml \(--namespace\): "Bad_NS" is not a DNS-1123 label/,
  );
  t.match(
    problem(() => resolveValues({ file: { name: 'v.yaml', data: { calloutPrt: 1 } } })),
    /unknown key "calloutPrt"; did you mean calloutPort\?/,
  );
  t.match(
    problem(() => resolveValues({ file: { name: 'v.yaml', data: { zzzzzzzzz: 1 } } })),
    /unknown key "zzzzzzzzz"; see --print-values/,
  );
  t.match(
    problem(() => resolveValues({ file: { name: 'v.yaml', data: ['a'] } })),
    /must be a YAML mapping/,
  );
  t.match(
    problem(() => resolveValues({ env: { MESHWASM_FAIL_OPEN: 'maybe' } })),
    /MESHWASM_FAIL_OPEN \(--fail-open\): "maybe" is not a boolean/,
  );
  t.match(
    problem(() => resolveValues({ file: { name: 'v.yaml', data: { selector: { app: 3 } } } })),
    /quote it as a string/,
  );
  t.match(
    problem(() => resolveValues({ flags: { selector: 'app=*' } })),
    /wildcards are not allowed/,
  );
  t.match(
    problem(() => resolveValues({ flags: { selector: 'bad key=x' } })),
    /label key "bad key" is invalid/,
  );
  t.match(
    problem(() => resolveValues({ flags: { targetRefs: 'Gateway/' } })),
    /is not a DNS-1123 name for the Gateway target/,
  );
  t.match(
    problem(() => resolveValues({ flags: { targetRefs: 'Frobnicator/x' } })),
    /kind Frobnicator is not one meshwasm knows/,
  );
  t.match(
    problem(() => resolveValues({ flags: { calloutHeaders: ['x-a'] } })),
    /is not of the form name=value/,
  );
  t.match(
    problem(() => resolveValues({ flags: { calloutPath: '/a\r\nb' } })),
    /control character/,
  );
  t.match(
    problem(() => resolveValues({ flags: { calloutBody: '\ud800' } })),
    /lone UTF-16 surrogate/,
  );
  t.match(
    problem(() => resolveValues({ flags: { sha256: 'ABC' } })),
    /64 lower-case hex digits/,
  );
  t.match(
    problem(() => resolveValues({ flags: { pluginName: 'a'.repeat(53) } })),
    /at most 52 characters/,
  );
});

t.test('list and map settings from flags, env and files', async (t) => {
  const { values } = resolveValues({
    flags: { calloutHeaders: ['x-b=2', 'x-a: 1'], targetRefs: 'Gateway/gw,Service/svc' },
    env: { MESHWASM_PROPAGATE_HEADERS: 'x-request-id, traceparent', MESHWASM_SELECTOR: 'version=v1,app=x' },
  });
  t.same(values.calloutHeaders, { 'x-a': '1', 'x-b': '2' }, 'headers are sorted');
  t.same(values.targetRefs, [
    { group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'gw' },
    { group: '', kind: 'Service', name: 'svc' },
  ]);
  t.same(values.propagateHeaders, ['x-request-id', 'traceparent']);
  t.same(Object.keys(values.selector!), ['app', 'version'], 'labels are sorted');
  const fromEnv = resolveValues({ env: { MESHWASM_CALLOUT_HEADER: 'x-a=1\nx-b=a,b' } }).values.calloutHeaders;
  t.same(fromEnv, { 'x-a': '1', 'x-b': 'a,b' }, 'one header per line in the env var, commas kept');
  const fromFile = resolveValues({
    file: {
      name: 'v',
      data: {
        targetRefs: [{ kind: 'Custom', group: 'example.com', name: 'x' }],
        failOpen: true,
        sampleRate: 0.5,
      },
    },
  }).values;
  t.same(
    fromFile.targetRefs,
    [{ group: 'example.com', kind: 'Custom', name: 'x' }],
    'a values file may give any kind with its group',
  );
  t.equal(fromFile.failOpen, true);
  t.equal(fromFile.sampleRate, 0.5);
});

t.test('every setting has a flag and a MESHWASM_ env var', async (t) => {
  const flags = new Set(SETTINGS.map((s) => s.flag));
  t.equal(flags.size, SETTINGS.length, 'flags are unique');
  for (const s of SETTINGS) t.match(envName(s), /^MESHWASM_[A-Z0-9_]+$/);
  t.equal(envName({ flag: 'callout-port' }), 'MESHWASM_CALLOUT_PORT');
});

const scratch = mkdtempSync(join(tmpdir(), 'meshwasm-values-'));

for (const args of [
  [],
  [
    '--target',
    'envoyfilter',
    '--shape',
    'waypoint',
    '--callout-header',
    'x-a=1',
    '--mesh-version',
    'istio-1.30',
  ],
  [
    '--target',
    'envoy-gateway',
    '--shape',
    'gateway-api',
    '--target-ref',
    'Gateway/eg',
    '--gateway',
    'eg',
    '--mode',
    'blocking',
    '--failure-status',
    '503',
    '--outcome-header',
    'x-outcome',
  ],
]) {
  t.test(`--print-values ${args.join(' ')} reads back to the same render`, async (t) => {
    const printed = await runCommand('render', ['--print-values', ...args]);
    t.equal(printed.code, 0, printed.stderr);
    const file = join(scratch, `values-${args.length}.yaml`);
    writeFileSync(file, printed.stdout);
    const direct = await runCommand('render', args);
    const viaFile = await runCommand('render', ['-f', file]);
    t.equal(direct.code, 0, direct.stderr);
    t.equal(viaFile.stdout, direct.stdout, 'same bytes');
  });
}

t.test('--print-values writes derived defaults as comments, so edits still propagate', async (t) => {
  const printed = await runCommand('render', ['--print-values']);
  t.match(printed.stdout, /^# calloutNamespace: jump-app-dev {4}# default: <namespace>$/m);
  t.match(printed.stdout, /^namespace: jump-app-dev$/m);
  const file = join(scratch, 'edited.yaml');
  writeFileSync(file, printed.stdout.replace('namespace: jump-app-dev\n', 'namespace: other\n'));
  const rendered = await runCommand('render', ['-f', file]);
  t.match(rendered.stdout, /outbound\|8444\|\|back-python\.other\.svc\.cluster\.local/);
});

t.test('--print-values rejects bad values like render does', async (t) => {
  const result = await runCommand('render', [
    '--print-values',
    '--shape',
    'waypoint',
    '--mesh-version',
    'ossm-2.5',
  ]);
  t.equal(result.code, 2);
  t.equal(result.stdout, '');
  t.match(result.stderr, /^Error: --shape: waypoints are attached by targetRefs/);
});

t.test('the root id and configuration the default EnvoyFilter render prints run the filter', async (t) => {
  const rendered = await runCommand('render', ['--target', 'envoyfilter', '-o', 'json']);
  t.equal(rendered.code, 0, rendered.stderr);
  // The Wasm filter's own config: the one object in the output that names a root id.
  const find = (node: unknown): Record<string, unknown> | undefined => {
    if (!node || typeof node !== 'object') return undefined;
    if ('root_id' in node) return node as Record<string, unknown>;
    for (const child of Object.values(node)) {
      const found = find(child);
      if (found) return found;
    }
    return undefined;
  };
  const wasm = find(JSON.parse(rendered.stdout));
  t.equal(wasm?.root_id, 'meshwasm', 'render names the root id meshwasm');
  const config = JSON.parse((wasm?.configuration as { value: string }).value) as { cluster: string };
  const { host, configured } = await loadFilter(config, {
    rootId: wasm?.root_id as string,
    clusters: { [config.cluster]: 'manual' },
  });
  t.equal(configured, true, 'the filter accepts what render emits');
  host.callOnRequestHeaders(host.initializeHttpContext(), clientRequest(), true);
  t.equal(host.getHttpCallouts().length, 1, 'and calls out once for a request');
});
