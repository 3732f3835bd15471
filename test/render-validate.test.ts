// `meshwasm validate` and the checks it shares with render: parse-back (YAML 1.2 = 1.1), the
// @kubernetes-models schemas, the CEL rules that matter, DNS-1123 names, the filter configuration
// schema, the root id, and mesh-version gating. Each rule is shown to reject a broken resource.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { stringify } from 'yaml';

import { firstDifference, parseManifestText, validateObjects } from '../renderers/validate.js';
import { parseMeshVersion } from '../renderers/versions.js';
import { ROOT, runCli, runCommand } from './helpers/render-run.js';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const golden = (name: string): Obj[] =>
  parseManifestText(readFileSync(join(ROOT, 'test', 'golden', `${name}.yaml`), 'utf8'), name)
    .objects as Obj[];
const broken = (name: string, index: number, edit: (o: Obj) => void): Obj => {
  const object = structuredClone(golden(name)[index]);
  edit(object);
  return object;
};
const problems = async (object: Obj, mesh?: string) =>
  (await validateObjects([object], { mesh: mesh ? parseMeshVersion(mesh) : undefined })).join('\n');

t.test('each rule rejects a broken resource', async (t) => {
  const cases: [string, Obj, RegExp, string?][] = [
    ['schema (k8s-models)', broken('default', 0, (o) => (o.spec.phase = 'LATE')), /schema: .*phase/],
    [
      'DNS-1123 name',
      broken('default', 0, (o) => (o.metadata.name = 'Meshwasm_X')),
      /metadata\.name "Meshwasm_X" is not a DNS-1123 name/,
    ],
    [
      'DNS-1123 namespace',
      broken('default', 0, (o) => (o.metadata.namespace = 'a.b')),
      /metadata\.namespace "a\.b" is not a DNS-1123 label/,
    ],
    [
      'metadata label',
      broken('default', 0, (o) => (o.metadata.labels = { 'bad key': 'x' })),
      /metadata\.labels "bad key"/,
    ],
    [
      'selector XOR targetRefs',
      broken('default', 0, (o) => (o.spec.targetRefs = [{ kind: 'Gateway', name: 'x' }])),
      /only one of selector, targetRef, targetRefs/,
    ],
    [
      'selector wildcard',
      broken('default', 0, (o) => (o.spec.selector.matchLabels = { 'app*': 'x' })),
      /wildcards are not allowed/,
    ],
    [
      'selector label value',
      broken('default', 0, (o) => (o.spec.selector.matchLabels = { app: 'x'.repeat(64) })),
      /is not a valid label/,
    ],
    [
      'targetRef namespace',
      broken('ossm/gateway-api-ossm-3.0', 0, (o) => (o.spec.targetRefs[0].namespace = 'other')),
      /cross-namespace references are not supported/,
    ],
    [
      'targetRefs max 16',
      broken(
        'ossm/gateway-api-ossm-3.0',
        0,
        (o) =>
          (o.spec.targetRefs = Array.from({ length: 17 }, (_, i) => ({ kind: 'Gateway', name: `g${i}` }))),
      ),
      /at most 16 targets/,
    ],
    [
      'url scheme',
      broken('default', 0, (o) => (o.spec.url = 'ftp://x/plugin.wasm')),
      /scheme ftp is not one of http, https, oci, file/,
    ],
    ['url required', broken('default', 0, (o) => delete o.spec.url), /spec\.url is required/],
    [
      'sha256 pattern',
      broken('default', 0, (o) => (o.spec.sha256 = 'ABC')),
      /spec\.sha256 must be 64 lower-case hex digits/,
    ],
    ['root id', broken('default', 0, (o) => (o.spec.pluginName = 'other')), /pluginName must be "meshwasm"/],
    [
      'filter config schema',
      broken('default', 0, (o) => (o.spec.pluginConfig.path = 'jump')),
      /spec\.pluginConfig: must match \^\/.* \(path\)/,
    ],
    [
      'filter config unknown key',
      broken('default', 0, (o) => (o.spec.pluginConfig.clustr = 'x')),
      /unknown key "clustr"/,
    ],
    [
      'failStrategy enum',
      broken('default', 0, (o) => (o.spec.failStrategy = 'FAIL_SOMETIMES')),
      /not FAIL_CLOSE, FAIL_OPEN or FAIL_RELOAD/,
    ],
    [
      'failStrategy gated',
      golden('ossm/sidecar-fail-open-ossm-2.6')[0],
      /spec\.failStrategy does not exist on ossm-2\.5/,
      'ossm-2.5',
    ],
    [
      'FAIL_RELOAD gated',
      golden('ossm/sidecar-fail-reload-ossm-3.2')[0],
      /FAIL_RELOAD does not exist on ossm-3\.1/,
      'ossm-3.1',
    ],
    [
      'targetRef gated',
      golden('ossm/gateway-api-ossm-2.6')[0],
      /spec\.targetRef does not exist on ossm-2\.5/,
      'ossm-2.5',
    ],
    [
      'targetRefs gated',
      golden('ossm/gateway-api-ossm-3.0')[0],
      /spec\.targetRefs does not exist on ossm-2\.6/,
      'ossm-2.6',
    ],
    ['WasmPlugin on Envoy Gateway', golden('default')[0], /WasmPlugin does not exist on eg-1\.9/, 'eg-1.9'],
    [
      'EnvoyFilter selector XOR targetRefs',
      broken(
        'envoyfilter/sidecar-ossm-3.2',
        0,
        (o) => (o.spec.targetRefs = [{ kind: 'Service', name: 'x' }]),
      ),
      /only one of workloadSelector and targetRefs/,
    ],
    [
      'EnvoyFilter patch operation',
      broken('envoyfilter/sidecar-ossm-3.2', 0, (o) => delete o.spec.configPatches[0].patch.operation),
      /configPatches\[0\]\.patch\.operation is required/,
    ],
    [
      'EnvoyFilter patch value',
      broken('envoyfilter/sidecar-ossm-3.2', 0, (o) => delete o.spec.configPatches[1].patch.value),
      /configPatches\[1\]\.patch\.value is required for INSERT_BEFORE/,
    ],
    [
      'EnvoyFilter root_id',
      broken(
        'envoyfilter/sidecar-ossm-3.2',
        0,
        (o) => (o.spec.configPatches[0].patch.value.typed_config.config.root_id = 'x'),
      ),
      /root_id must be "meshwasm"/,
    ],
    [
      'EnvoyFilter configuration JSON',
      broken(
        'envoyfilter/sidecar-ossm-3.2',
        0,
        (o) => (o.spec.configPatches[0].patch.value.typed_config.config.configuration.value = '{not json'),
      ),
      /configuration\.value is not JSON/,
    ],
    [
      'EnvoyFilter configuration schema',
      broken(
        'envoyfilter/sidecar-ossm-3.2',
        0,
        (o) =>
          (o.spec.configPatches[0].patch.value.typed_config.config.configuration.value = '{"fanOut": 99}'),
      ),
      /fanOut/,
    ],
    [
      'EnvoyFilter configuration type',
      broken(
        'envoyfilter/sidecar-ossm-3.2',
        0,
        (o) => (o.spec.configPatches[0].patch.value.typed_config.config.configuration = { a: 1 }),
      ),
      /must be a google\.protobuf\.StringValue/,
    ],
    [
      'inline code.remote sha256',
      broken(
        'envoyfilter/sidecar-url-istio-1.26',
        0,
        (o) => delete o.spec.configPatches[1].patch.value.typed_config.config.vm_config.code.remote.sha256,
      ),
      /code\.remote\.sha256 is required/,
    ],
    [
      'inline code.remote oci',
      broken(
        'envoyfilter/sidecar-url-istio-1.26',
        0,
        (o) =>
          (o.spec.configPatches[1].patch.value.typed_config.config.vm_config.code.remote.http_uri.uri =
            'oci://r/x:1'),
      ),
      /cannot read oci:\/\/ URLs/,
    ],
    [
      'failure_policy gated',
      golden('envoyfilter/sidecar-fail-open-istio-1.30')[0],
      /failure_policy does not exist on ossm-3\.1's Envoy/,
      'ossm-3.1',
    ],
    [
      'EnvoyFilter targetRefs gated',
      golden('envoyfilter/waypoint-istio-1.30')[0],
      /spec\.targetRefs does not exist on ossm-2\.6/,
      'ossm-2.6',
    ],
    [
      'referenced-services gated',
      golden('envoyfilter/waypoint-istio-1.30')[0],
      /referenced-services is ignored before Istio 1\.26 \(ossm-3\.0\)/,
      'ossm-3.0',
    ],
    [
      'EnvoyFilter on Envoy Gateway',
      golden('envoyfilter/sidecar-ossm-3.2')[0],
      /EnvoyFilter does not exist on eg-1\.9/,
      'eg-1.9',
    ],
    [
      'EEP targetRef group',
      broken('envoy-gateway/route-eg-1.9', 0, (o) => (o.spec.targetRefs[0].group = 'example.com')),
      /targetRefs\[0\]\.group must be gateway\.networking\.k8s\.io/,
    ],
    [
      'EEP targetRef kind',
      broken('envoy-gateway/route-eg-1.9', 0, (o) => (o.spec.targetRefs[0].kind = 'Service')),
      /targetRefs\[0\]\.kind must be one of Gateway/,
    ],
    [
      'EEP targetRef XOR targetRefs',
      broken('envoy-gateway/route-eg-1.9', 0, (o) => (o.spec.targetRef = o.spec.targetRefs[0])),
      /exactly one of targetRef and targetRefs/,
    ],
    [
      'EEP code type ⇔ source',
      broken('envoy-gateway/route-eg-1.9', 0, (o) => (o.spec.wasm[0].code.type = 'HTTP')),
      /type HTTP goes with code\.http/,
    ],
    [
      'EEP sha256',
      broken('envoy-gateway/route-pinned-eg-1.9', 0, (o) => (o.spec.wasm[0].code.image.sha256 = 'nope')),
      /code\.image\.sha256 must be 64 lower-case hex digits/,
    ],
    [
      'EEP pull secret kind',
      broken(
        'envoy-gateway/route-pinned-eg-1.9',
        0,
        (o) => (o.spec.wasm[0].code.image.pullSecretRef.kind = 'ConfigMap'),
      ),
      /pullSecretRef\.kind must be Secret/,
    ],
    [
      'EEP rootID',
      broken('envoy-gateway/route-eg-1.9', 0, (o) => (o.spec.wasm[0].rootID = 'x')),
      /rootID must be "meshwasm"/,
    ],
    [
      'EEP config schema',
      broken('envoy-gateway/route-eg-1.9', 0, (o) => (o.spec.wasm[0].config.mode = 'eventually')),
      /config: must be one of async, blocking \(mode\)/,
    ],
    [
      'EEP max 16 wasm',
      broken(
        'envoy-gateway/route-eg-1.9',
        0,
        (o) => (o.spec.wasm = Array.from({ length: 17 }, () => o.spec.wasm[0])),
      ),
      /at most 16 entries/,
    ],
    [
      'EEP on Istio',
      golden('envoy-gateway/route-eg-1.9')[0],
      /EnvoyExtensionPolicy does not exist on ossm-3\.2/,
      'ossm-3.2',
    ],
    [
      'EPP type',
      broken('envoy-gateway/route-eg-1.9', 1, (o) => (o.spec.type = 'Merge')),
      /spec\.type must be JSONPatch/,
    ],
    [
      'EPP target kind',
      broken('envoy-gateway/route-eg-1.9', 1, (o) => (o.spec.targetRef.kind = 'HTTPRoute')),
      /targetRef\.kind must be one of Gateway, GatewayClass/,
    ],
    [
      'EPP on Istio',
      golden('envoy-gateway/route-eg-1.9')[1],
      /EnvoyPatchPolicy does not exist on istio-1\.30/,
      'istio-1.30',
    ],
    [
      'wrong apiVersion',
      broken('default', 0, (o) => (o.apiVersion = 'extensions.istio.io/v1beta1')),
      /apiVersion must be extensions\.istio\.io\/v1alpha1/,
    ],
  ];
  for (const [what, object, expected, mesh] of cases) t.match(await problems(object, mesh), expected, what);
  t.match((await validateObjects(['text'])).join(''), /not a Kubernetes resource/);
});

t.test('every golden is valid, also without a mesh version and inside a v1 List', async (t) => {
  const objects = [
    ...golden('default'),
    ...golden('envoyfilter/waypoint-istio-1.30'),
    ...golden('envoy-gateway/route-eg-1.9'),
  ];
  t.same(await validateObjects(objects), []);
  t.same(await validateObjects([{ apiVersion: 'v1', kind: 'List', items: objects }]), []);
});

t.test('parse-back catches text that YAML 1.1 reads differently, and syntax errors', async (t) => {
  t.match(parseManifestText('a: yes\n', 'x').problems, [
    /reads differently as YAML 1\.1 .* at \/0\/a; quote that value/,
  ]);
  t.match(parseManifestText('a: [1\n', 'x').problems, [/^x:2:1: Flow sequence/]);
  t.match(parseManifestText('a: 1\na: 2\n', 'x').problems, [
    /^x:2:1: key "a" appears twice \(first on line 1\)/,
  ]);
  t.same(
    parseManifestText('---\na: "yes"\n---\n', 'x'),
    { objects: [{ a: 'yes' }], lines: [2], problems: [] },
    'empty documents are skipped',
  );
  t.equal(firstDifference({ a: [1, 2] }, { a: [1] }), '/a (length 2 vs 1)');
  t.equal(firstDifference({ a: { b: 1 } }, { a: { b: 1 } }), undefined);
});

const scratch = mkdtempSync(join(tmpdir(), 'meshwasm-validate-'));

t.test('the validate command', async (t) => {
  const ok = await runCommand('validate', [
    join(ROOT, 'test', 'golden', 'envoy-gateway', 'route-eg-1.9.yaml'),
    '--mesh-version',
    'eg-1.9',
  ]);
  t.equal(ok.code, 0, ok.stderr);
  t.match(ok.stdout, /^valid: .*route-eg-1\.9\.yaml \(2 resources, eg-1\.9\)\n$/);

  const gated = await runCommand('validate', [
    join(ROOT, 'test', 'golden', 'ossm', 'sidecar-fail-open-ossm-2.6.yaml'),
    '--mesh-version',
    'ossm-2.5',
  ]);
  t.equal(gated.code, 2, 'problems found: exit 2, as for any bad input');
  t.equal(gated.stdout, '');
  t.match(
    gated.stderr,
    /WasmPlugin jump-app-dev\/meshwasm-back-golang: spec\.failStrategy does not exist on ossm-2\.5\n.*: 1 problem\n/,
  );

  const values = join(scratch, 'values.yaml');
  writeFileSync(values, 'target: envoy-gateway\ngateway: eg\n');
  const fromValues = await runCommand('validate', [values]);
  t.equal(fromValues.code, 0, fromValues.stderr);
  t.match(
    fromValues.stdout,
    /values file renders EnvoyExtensionPolicy jump-app-dev\/meshwasm-back-golang, EnvoyPatchPolicy jump-app-dev\/meshwasm-back-python/,
  );

  const gatedValues = join(scratch, 'gated-values.yaml');
  writeFileSync(gatedValues, 'shape: waypoint\n');
  t.equal(
    (await runCommand('validate', [gatedValues])).code,
    0,
    'a waypoint renders on the default ossm-3.2',
  );
  const onOldMesh = await runCommand('validate', [gatedValues, '--mesh-version', 'ossm-2.6']);
  t.equal(onOldMesh.code, 2, '--mesh-version applies to a values file too');
  t.match(onOldMesh.stderr, /waypoints are attached by targetRefs, which ossm-2\.6 does not have/);

  const badValues = join(scratch, 'bad-values.yaml');
  writeFileSync(badValues, 'shape: waypoint\nmeshVersion: ossm-2.5\n');
  const fromBadValues = await runCommand('validate', [badValues]);
  t.equal(fromBadValues.code, 2);
  t.match(
    fromBadValues.stderr,
    /shape in .*bad-values\.yaml \(--shape\): waypoints are attached by targetRefs/,
  );

  const list = join(scratch, 'list.json');
  writeFileSync(list, (await runCommand('render', ['-o', 'json'])).stdout);
  t.equal((await runCommand('validate', [list])).code, 0, 'a JSON v1 List');

  const ambiguous = join(scratch, 'ambiguous.yaml');
  writeFileSync(ambiguous, stringify(golden('default')[0]).replace('app: back-golang', 'app: on'));
  const read11 = await runCommand('validate', [ambiguous]);
  t.equal(read11.code, 2);
  t.match(read11.stderr, /reads differently as YAML 1\.1/);

  const missing = await runCommand('validate', [join(scratch, 'missing.yaml')]);
  t.equal(missing.code, 2, 'an unreadable file is a usage error');
  t.match(missing.stderr, /^Error: FILE: .*missing\.yaml does not exist/);
  const badMesh = await runCommand('validate', [list, '--mesh-version', 'ossm-9']);
  t.equal(badMesh.code, 2);
  t.match(badMesh.stderr, /^Error: --mesh-version: "ossm-9" is not a mesh version/);
});

t.test('render | validate - (real CLI, stdin)', async (t) => {
  for (const target of ['ossm', 'envoyfilter', 'envoy-gateway']) {
    const rendered = runCli(['render', '--target', target]);
    const checked = runCli(['validate', '-'], { input: rendered.stdout });
    t.equal(checked.code, 0, `${target}: ${checked.stderr}`);
    t.match(checked.stdout, /^valid: stdin/);
  }
  const tampered = runCli(['validate', '-'], {
    input: runCli(['render']).stdout.replace('pluginName: meshwasm', 'pluginName: other'),
  });
  t.equal(tampered.code, 2);
  t.match(tampered.stderr, /pluginName must be "meshwasm"/);
});
