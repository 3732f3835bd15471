// `meshwasm render` as a user runs it: the real CLI in a subprocess (node bin/run.js, from dist/)
// for exit codes and pipe-clean stdout, and the command class in-process for the same cases.
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { parseAllDocuments } from 'yaml';

import { ROOT, runCli, runCommand } from './helpers/render-run.js';

const scratch = mkdtempSync(join(tmpdir(), 'meshwasm-cli-'));
const badValues = join(scratch, 'bad-key.yaml');
writeFileSync(badValues, 'calloutPrt: 8444\n');
const brokenYaml = join(scratch, 'broken.yaml');
writeFileSync(brokenYaml, 'namespace: [unclosed\n');
const aFile = join(scratch, 'a-file');
writeFileSync(aFile, 'x');

// Each kind of bad input: the flag (or source) the one-line message must name.
const BAD: { what: string; args: string[]; env?: Record<string, string>; names: RegExp }[] = [
  {
    what: 'unknown target',
    args: ['--target', 'linkerd'],
    names: /^Error: --target: "linkerd" is not allowed; use one of ossm, envoyfilter, envoy-gateway\n$/,
  },
  {
    what: 'bad name',
    args: ['--namespace', 'Jump_App'],
    names: /^Error: --namespace: "Jump_App" is not a DNS-1123 label/,
  },
  { what: 'bad workload name', args: ['--workload', 'back golang'], names: /^Error: --workload: / },
  {
    what: 'port out of range',
    args: ['--callout-port', '0'],
    names: /^Error: --callout-port: 0 is out of range; use a port between 1 and 65535\n$/,
  },
  {
    what: 'path without a leading /',
    args: ['--callout-path', 'jump'],
    names: /^Error: --callout-path: "jump" is rejected by filter\/config\.schema\.json \(must match \^\//,
  },
  { what: 'malformed sha256', args: ['--sha256', 'xyz'], names: /^Error: --sha256: "xyz" is not a sha256/ },
  {
    what: 'waypoint on OSSM 2.5',
    args: ['--shape', 'waypoint', '--mesh-version', 'ossm-2.5'],
    names: /^Error: --shape: waypoints are attached by targetRefs, which ossm-2\.5 does not have/,
  },
  {
    what: 'targetRefs on a sidecar',
    args: ['--target-ref', 'Gateway/gw'],
    names: /^Error: --target-ref: sidecars ignore a policy with targetRefs/,
  },
  {
    what: 'blocking mode with fan-out 0',
    args: ['--mode', 'blocking', '--fan-out', '0'],
    names: /^Error: --fan-out: blocking mode with --fan-out 0/,
  },
  {
    what: 'unknown mesh version',
    args: ['--mesh-version', 'istio-1.17'],
    names: /^Error: --mesh-version: "istio-1\.17" is not a mesh version/,
  },
  {
    what: 'mesh version of another target',
    args: ['--target', 'envoy-gateway', '--mesh-version', 'ossm-3.2'],
    names: /^Error: --mesh-version: ossm-3\.2 does not run --target envoy-gateway/,
  },
  {
    what: 'shape the target lacks',
    args: ['--target', 'envoy-gateway', '--shape', 'sidecar'],
    names: /^Error: --shape: --target envoy-gateway has no sidecar shape/,
  },
  {
    what: 'two module sources',
    args: ['--image', 'oci://r.example.com/a:1', '--file', '/p.wasm'],
    names: /^Error: --file: --image and --file both name the module/,
  },
  {
    what: 'FAIL_RELOAD before 1.27',
    args: ['--fail-reload', '--mesh-version', 'ossm-3.0'],
    names: /^Error: --fail-reload: FAIL_RELOAD needs/,
  },
  {
    what: 'bad env value',
    args: [],
    env: { MESHWASM_CALLOUT_PORT: 'eighty' },
    names: /^Error: MESHWASM_CALLOUT_PORT \(--callout-port\): "eighty" is not a port/,
  },
  {
    what: 'bad env boolean',
    args: [],
    env: { MESHWASM_FAIL_OPEN: 'sure' },
    names: /^Error: MESHWASM_FAIL_OPEN \(--fail-open\): "sure" is not a boolean/,
  },
  {
    what: 'unknown values-file key',
    args: ['-f', badValues],
    names: /^Error: .*bad-key\.yaml \(--values\): unknown key "calloutPrt"; did you mean calloutPort\?\n$/,
  },
  {
    what: 'values file that is not YAML',
    args: ['-f', brokenYaml],
    names:
      /^Error: --values: .*broken\.yaml:2:1: Flow sequence in block collection must be sufficiently indented and end with a \]; fix the file/,
  },
  {
    what: 'missing values file',
    args: ['-f', join(scratch, 'nope.yaml')],
    names: /^Error: --values: .*nope\.yaml does not exist/,
  },
  {
    what: 'output dir that is a file',
    args: ['--output-dir', aFile],
    names: /^Error: --output-dir: .*a-file exists and is not a directory/,
  },
  {
    what: 'bad output format',
    args: ['-o', 'xml'],
    names: /^Error: --output: "xml" is not allowed; use one of yaml, json\n$/,
  },
];

t.test('bad input: one message naming the flag, exit code 2, nothing on stdout (real CLI)', async (t) => {
  for (const bad of BAD) {
    const result = runCli(['render', ...bad.args], { env: bad.env });
    t.equal(result.code, 2, `${bad.what}: exit code 2`);
    t.equal(result.stdout, '', `${bad.what}: stdout empty`);
    t.match(result.stderr, bad.names, `${bad.what}: ${result.stderr.trim()}`);
    t.equal(result.stderr.trim().split('\n').length, 1, `${bad.what}: one line`);
  }
  const unknownFlag = runCli(['render', '--callout-prot', '1']);
  t.equal(unknownFlag.code, 2, 'an unknown flag exits 2 too');
  t.equal(unknownFlag.stdout, '');
  t.match(
    unknownFlag.stderr,
    /^Error: unknown flag --callout-prot; did you mean --callout-port\?\n/,
    'names the flag and the nearest real one',
  );
});

t.test('bad input in-process: the same messages and exit code', async (t) => {
  for (const bad of BAD) {
    const result = await runCommand('render', bad.args, bad.env);
    t.equal(result.code, 2, `${bad.what}: exit 2`);
    t.equal(result.stdout, '', `${bad.what}: stdout empty`);
    t.match(result.stderr, bad.names, bad.what);
  }
});

t.test('no flags: the reference scenario, pipe-clean', async (t) => {
  const result = runCli(['render']);
  t.equal(result.code, 0);
  t.equal(
    result.stdout,
    readFileSync(join(ROOT, 'test', 'golden', 'default.yaml'), 'utf8'),
    'the default golden',
  );
  t.match(
    result.stdout,
    /pluginConfig: \{"cluster": "outbound\|8444\|\|back-python\.jump-app-dev\.svc\.cluster\.local", .*"method": "GET", .*"path": "\/jump"/,
  );
  t.match(result.stdout, /app: back-golang/);
  t.match(result.stdout, /namespace: jump-app-dev/);
  t.match(result.stderr, /^warning: the default image .* is not pinned/, 'warnings go to stderr');
  const parsed = parseAllDocuments(result.stdout);
  t.equal(parsed.length, 1);
  t.same(parsed[0].errors, []);
});

t.test('envoy-gateway: two documents separated by ---, patch-policy note on stderr', async (t) => {
  const result = runCli(['render', '--target', 'envoy-gateway']);
  t.equal(result.code, 0);
  t.equal(
    result.stdout,
    readFileSync(join(ROOT, 'test', 'golden', 'envoy-gateway', 'route-eg-1.9.yaml'), 'utf8'),
  );
  t.equal(result.stdout.split('\n---\n').length, 2);
  t.match(result.stderr, /extensionApis\.enableEnvoyPatchPolicy: true/);
});

t.test('-o json prints a v1 List of the same resources', async (t) => {
  const yaml = await runCommand('render', ['--target', 'envoy-gateway']);
  const json = await runCommand('render', ['--target', 'envoy-gateway', '-o', 'json']);
  t.equal(json.code, 0);
  const list = JSON.parse(json.stdout) as { apiVersion: string; kind: string; items: unknown[] };
  t.equal(list.apiVersion, 'v1');
  t.equal(list.kind, 'List');
  t.same(
    list.items,
    parseAllDocuments(yaml.stdout).map((d) => d.toJS()),
  );
  t.equal(
    (await runCommand('render', ['-o', 'json', '--target', 'envoy-gateway'])).stdout,
    json.stdout,
    'deterministic',
  );
});

t.test('--output-dir writes one file per resource and a kustomization.yaml', async (t) => {
  const dir = join(scratch, 'out', 'eg');
  const result = await runCommand('render', ['--target', 'envoy-gateway', '--output-dir', dir]);
  t.equal(result.code, 0);
  t.equal(result.stdout, '', 'nothing on stdout');
  t.match(result.stderr, /wrote .*kustomization\.yaml/);
  t.same(readdirSync(dir).sort(), [
    'envoyextensionpolicy-meshwasm-back-golang.yaml',
    'envoypatchpolicy-meshwasm-back-python.yaml',
    'kustomization.yaml',
  ]);
  t.equal(
    readFileSync(join(dir, 'kustomization.yaml'), 'utf8'),
    'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- envoyextensionpolicy-meshwasm-back-golang.yaml\n- envoypatchpolicy-meshwasm-back-python.yaml\n',
  );
  const all = (await runCommand('render', ['--target', 'envoy-gateway'])).stdout.split('---\n');
  t.equal(readFileSync(join(dir, 'envoyextensionpolicy-meshwasm-back-golang.yaml'), 'utf8'), all[0]);
  t.equal(readFileSync(join(dir, 'envoypatchpolicy-meshwasm-back-python.yaml'), 'utf8'), all[1]);

  const jsonDir = join(scratch, 'out', 'json');
  t.equal((await runCommand('render', ['-o', 'json', '--output-dir', jsonDir])).code, 0);
  const wasmPlugin = JSON.parse(
    readFileSync(join(jsonDir, 'wasmplugin-meshwasm-back-golang.json'), 'utf8'),
  ) as { kind: string };
  t.equal(wasmPlugin.kind, 'WasmPlugin');
  t.ok(existsSync(join(jsonDir, 'kustomization.yaml')));

  const failed = await runCommand('render', [
    '--output-dir',
    join(scratch, 'out', 'bad'),
    '--callout-port',
    '0',
  ]);
  t.equal(failed.code, 2);
  t.notOk(existsSync(join(scratch, 'out', 'bad')), 'bad input writes no files');
});

t.test('flags override the values file; env overrides it too', async (t) => {
  const file = join(scratch, 'values.yaml');
  writeFileSync(file, 'target: envoyfilter\ncalloutPath: /from-file\ncalloutPort: 9000\n');
  const result = await runCommand('render', ['-f', file, '--callout-port', '9100'], {
    MESHWASM_CALLOUT_PATH: '/from-env',
  });
  t.equal(result.code, 0, result.stderr);
  t.match(result.stdout, /kind: EnvoyFilter/, 'target from the file');
  t.match(result.stdout, /outbound\|9100\|\|/, 'port from the flag');
  t.match(result.stdout, /"path": "\/from-env"/, 'path from env');
  const viaEnvFile = await runCommand('render', [], { MESHWASM_VALUES: file });
  t.match(viaEnvFile.stdout, /outbound\|9000\|\|/, 'MESHWASM_VALUES names the values file');
});

t.test('values from stdin', async (t) => {
  const result = runCli(['render', '-f', '-'], { input: 'target: envoy-gateway\ngateway: my-gw\n' });
  t.equal(result.code, 0, result.stderr);
  t.match(result.stdout, /name: my-gw/);
});

t.test('--help lists the flags with their env vars', async (t) => {
  const result = runCli(['render', '--help']);
  t.equal(result.code, 0);
  t.match(result.stdout, /--callout-port=<value>\s+\[default: 8444, env: MESHWASM_CALLOUT_PORT\]/);
  t.match(result.stdout, /--print-values/);
  t.match(result.stdout, /CALLOUT FLAGS/);
});
