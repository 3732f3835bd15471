// --eg-merge: render follows Envoy Gateway's EnvoyProxy merge settings. mergeGateways aims the
// EnvoyPatchPolicy at the GatewayClass (the only target Envoy Gateway applies then); mergeBackends
// calls the cluster Envoy Gateway names after the Service, so no patch policy and no
// --callout-cluster are needed (eg-translate.test.ts shows Envoy Gateway generating that name).
// Each says on stderr what it emitted; misuse is one line on stderr, exit 2, empty stdout.
import t from 'tap';
import { parseAllDocuments } from 'yaml';

import { runCommand } from './helpers/render-run.js';

type Obj = Record<string, unknown>;
const docs = (text: string) => parseAllDocuments(text).map((d) => d.toJSON() as Obj);
const kindOf = (objects: Obj[], kind: string) => objects.find((o) => o.kind === kind);

t.test('mergeGateways: the EnvoyPatchPolicy targets the GatewayClass, and stderr says so', async (t) => {
  const r = await runCommand('render', [
    '--target',
    'envoy-gateway',
    '--eg-merge',
    'gateways',
    '--gateway-class',
    'shared',
  ]);
  t.equal(r.code, 0, r.stderr);
  const patch = kindOf(docs(r.stdout), 'EnvoyPatchPolicy')!;
  t.same((patch.spec as Obj).targetRef, {
    group: 'gateway.networking.k8s.io',
    kind: 'GatewayClass',
    name: 'shared',
  });
  t.match(
    r.stderr,
    /EnvoyPatchPolicy that adds cluster meshwasm-back-python targets GatewayClass shared \(mergeGateways/,
  );

  const plain = await runCommand('render', ['--target', 'envoy-gateway']);
  const plainPatch = kindOf(docs(plain.stdout), 'EnvoyPatchPolicy')!;
  t.same((plainPatch.spec as Obj).targetRef, {
    group: 'gateway.networking.k8s.io',
    kind: 'Gateway',
    name: 'eg',
  });
  t.match(
    plain.stderr,
    /targets Gateway jump-app-dev\/eg and only takes effect/,
    'the default says which it emitted too',
  );
});

t.test('mergeBackends: the Service-named cluster, no EnvoyPatchPolicy', async (t) => {
  const r = await runCommand('render', [
    '--target',
    'envoy-gateway',
    '--eg-merge',
    'backends',
    '--callout-service',
    'jumper',
    '--callout-namespace',
    'tools',
    '--callout-port',
    '9090',
  ]);
  t.equal(r.code, 0, r.stderr);
  const objects = docs(r.stdout);
  t.notOk(kindOf(objects, 'EnvoyPatchPolicy'), 'no patch policy');
  const wasm = ((kindOf(objects, 'EnvoyExtensionPolicy')!.spec as Obj).wasm as Obj[])[0];
  const config = wasm.config as { cluster: string; authority: string };
  t.equal(config.cluster, 'service/tools/jumper/9090/http');
  t.equal(config.authority, 'jumper.tools.svc.cluster.local', 'the authority is still the Service host');
  t.match(
    r.stderr,
    /with mergeBackends the filter calls cluster service\/tools\/jumper\/9090\/http.*Service tools\/jumper:9090/,
  );
});

t.test('misuse: one line naming the flag, exit 2, nothing on stdout', async (t) => {
  const cases = [
    {
      args: ['--eg-merge', 'gateways'],
      want: /^Error: --eg-merge: is an Envoy Gateway \(EnvoyProxy\) setting/,
    },
    {
      args: ['--target', 'envoy-gateway', '--eg-merge', 'backends', '--callout-cluster', 'x'],
      want: /^Error: --callout-cluster: names the cluster itself, so --eg-merge backends changes nothing/,
    },
    { args: ['--target', 'envoy-gateway', '--eg-merge', 'both'], want: /--eg-merge/ },
  ];
  for (const c of cases) {
    const r = await runCommand('render', c.args);
    t.equal(r.code, 2, c.args.join(' '));
    t.equal(r.stdout, '', 'stdout stays empty');
    t.match(r.stderr, c.want);
    t.equal(r.stderr.trim().split('\n').length, 1, 'one line');
  }
});
