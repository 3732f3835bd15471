// detect, apply, status, delete and their faults against a real kube-apiserver with the upstream
// mesh CRDs (test/helpers/apiserver.ts). No controller runs there: the objects a mesh install has
// (istiod's Deployment, the ServiceMeshControlPlane, ...) are created by the test, and every status
// condition is written by the test the way the mesh's controller would write it.
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';

import type { KubeObject } from '../cluster/api.js';
import { install, namespace, remove, startApiServer, writeStatus } from './helpers/apiserver.js';
import { runCli, runCommand, runLean } from './helpers/render-run.js';

const scratch = mkdtempSync(join(tmpdir(), 'meshwasm-cluster-'));

const deployment = (ns: string, name: string, labels: Record<string, string>, image: string): KubeObject => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { namespace: ns, name, labels },
  spec: {
    selector: { matchLabels: labels },
    template: { metadata: { labels }, spec: { containers: [{ name: 'main', image }] } },
  },
});

/** A CRD of our own for kinds whose upstream CRDs are not among the Go modules we fetch (Maistra's, Sail's): schema-less on purpose. */
const looseCrd = (
  group: string,
  version: string,
  kind: string,
  plural: string,
  scope: 'Namespaced' | 'Cluster',
): KubeObject => ({
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: { name: `${plural}.${group}` },
  spec: {
    group,
    scope,
    names: { kind, plural, singular: kind.toLowerCase(), listKind: `${kind}List` },
    versions: [
      {
        name: version,
        served: true,
        storage: true,
        schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } },
      },
    ],
  },
});

async function eventually(what: string, check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

t.test('cluster commands on a real API server', async (t) => {
  const server = await startApiServer(t);
  if (!server) return;
  const { api } = server;
  const env = { KUBECONFIG: server.kubeconfig };
  const run = (
    command: 'apply' | 'detect' | 'status' | 'delete',
    args: string[] = [],
    extra: Record<string, string> = {},
  ) => runCommand(command, args, { ...env, ...extra });

  await t.test('detect finds each flavor from the objects its install creates', async (t) => {
    let result = await run('detect');
    t.equal(result.code, 1, 'no mesh: exit 1');
    t.match(result.stdout, /^no mesh found/);

    await install(api, namespace('istio-system'));
    const istiod = deployment(
      'istio-system',
      'istiod',
      { app: 'istiod', istio: 'pilot' },
      'docker.io/istio/pilot:1.27.1-distroless',
    );
    await install(api, istiod);
    result = await run('detect');
    t.equal(result.code, 0, result.stderr);
    t.match(
      result.stdout,
      'istio: istiod istio-system/istiod, image docker.io/istio/pilot:1.27.1-distroless',
    );
    t.match(result.stdout, 'recommended: --target ossm --shape sidecar --mesh-version istio-1.27');
    const json = JSON.parse((await run('detect', ['-o', 'json'])).stdout);
    t.same(json.recommendation, { target: 'ossm', shape: 'sidecar', meshVersion: 'istio-1.27' });
    t.equal(json.istio.version, '1.27.1-distroless');

    const ztunnel: KubeObject = {
      ...deployment('istio-system', 'ztunnel', { app: 'ztunnel' }, 'docker.io/istio/ztunnel:1.27.1'),
      kind: 'DaemonSet',
    };
    await install(api, {
      ...ztunnel,
      metadata: { ...ztunnel.metadata, labels: { 'app.kubernetes.io/name': 'ztunnel', app: 'ztunnel' } },
    });
    result = await run('detect');
    t.match(result.stdout, 'ambient: ztunnel DaemonSet istio-system/ztunnel');
    t.match(result.stdout, '--shape waypoint --mesh-version istio-1.27', 'ambient: waypoint shape');
    await remove(api, 'apps/v1', 'DaemonSet', 'istio-system', 'ztunnel');

    // OSSM 2: the Maistra operator's ServiceMeshControlPlane; its version is OSSM's, not Istio's.
    await install(
      api,
      looseCrd('maistra.io', 'v2', 'ServiceMeshControlPlane', 'servicemeshcontrolplanes', 'Namespaced'),
    );
    await eventually('the SMCP kind', async () =>
      Boolean(await api.resourceType('maistra.io/v2', 'ServiceMeshControlPlane')),
    );
    await install(api, {
      apiVersion: 'maistra.io/v2',
      kind: 'ServiceMeshControlPlane',
      metadata: { namespace: 'istio-system', name: 'basic' },
      spec: { version: 'v2.6' },
    });
    result = await run('detect');
    t.match(result.stdout, 'ossm 2: ServiceMeshControlPlane istio-system/basic, version v2.6');
    t.match(result.stdout, '--target ossm --shape sidecar --mesh-version ossm-2.6');
    await remove(api, 'maistra.io/v2', 'ServiceMeshControlPlane', 'istio-system', 'basic');

    // OSSM 3: the Sail operator's cluster-scoped Istio resource; OSSM 3.1 ships Istio 1.26.
    await install(api, looseCrd('sailoperator.io', 'v1', 'Istio', 'istios', 'Cluster'));
    await eventually('the Sail Istio kind', async () =>
      Boolean(await api.resourceType('sailoperator.io/v1', 'Istio')),
    );
    await install(api, {
      apiVersion: 'sailoperator.io/v1',
      kind: 'Istio',
      metadata: { name: 'default' },
      spec: { version: 'v1.26.2', namespace: 'istio-system' },
    });
    result = await run('detect');
    t.match(result.stdout, 'ossm 3: Sail Istio default, version v1.26.2');
    t.match(result.stdout, '--mesh-version ossm-3.1');
    await remove(api, 'sailoperator.io/v1', 'Istio', undefined, 'default');
    await remove(api, 'apps/v1', 'Deployment', 'istio-system', 'istiod');

    await install(api, namespace('envoy-gateway-system'));
    await install(
      api,
      deployment(
        'envoy-gateway-system',
        'envoy-gateway',
        { 'control-plane': 'envoy-gateway' },
        'docker.io/envoyproxy/gateway:v1.9.0',
      ),
    );
    const config = (enabled: boolean): KubeObject => ({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { namespace: 'envoy-gateway-system', name: 'envoy-gateway-config' },
      data: {
        'envoy-gateway.yaml': `apiVersion: gateway.envoyproxy.io/v1alpha1\nkind: EnvoyGateway\nprovider:\n  type: Kubernetes\nextensionApis:\n  enableEnvoyPatchPolicy: ${enabled}\n`,
      },
    });
    await install(api, config(true));
    result = await run('detect');
    t.match(
      result.stdout,
      'envoy gateway: envoy-gateway-system/envoy-gateway, image docker.io/envoyproxy/gateway:v1.9.0, EnvoyPatchPolicy enabled',
    );
    t.match(result.stdout, 'recommended: --target envoy-gateway --shape route --mesh-version eg-1.9');
    t.notMatch(result.stdout, 'note:');

    const auto = await runLean(['--target', 'auto'], env);
    t.equal(auto.code, 0, auto.stderr);
    t.match(
      auto.stdout,
      /kind: EnvoyExtensionPolicy[\s\S]*kind: EnvoyPatchPolicy/,
      'render --target auto renders for Envoy Gateway',
    );
    t.match(auto.stderr, '--target auto: envoy-gateway, shape route, mesh version eg-1.9');
    const autoGiven = await runLean(['--target', 'auto', '--shape', 'gateway-api'], env);
    t.match(autoGiven.stdout, 'kind: Gateway', 'a shape the user gave wins over the detected one');

    await install(api, config(false));
    result = await run('detect');
    t.match(result.stdout, 'EnvoyPatchPolicy disabled');
    t.match(
      result.stdout,
      /note: EnvoyPatchPolicy is disabled in envoy-gateway-system\/envoy-gateway-config: set extensionApis.enableEnvoyPatchPolicy: true/,
    );
  });

  await t.test(
    'apply: created, then unchanged; configured on a change; dry run persists nothing',
    async (t) => {
      await install(api, namespace('jump-app-dev'));
      let result = await run('apply');
      t.equal(result.code, 0, result.stderr);
      t.equal(result.stdout, 'wasmplugins.extensions.istio.io/meshwasm-back-golang created\n');
      result = await run('apply');
      t.equal(
        result.stdout,
        'wasmplugins.extensions.istio.io/meshwasm-back-golang unchanged\n',
        'a second apply changes nothing',
      );
      result = await run('apply', ['--callout-timeout-ms', '250']);
      t.equal(result.stdout, 'wasmplugins.extensions.istio.io/meshwasm-back-golang configured\n');
      const type = (await api.resourceType('extensions.istio.io/v1alpha1', 'WasmPlugin'))!;
      const stored = (await api.get(type, 'jump-app-dev', 'meshwasm-back-golang'))!;
      t.match(stored.metadata.labels, {
        'app.kubernetes.io/managed-by': 'meshwasm',
        'meshwasm.io/instance': 'back-golang',
      });
      t.equal(stored.metadata.annotations['meshwasm.io/callout-service'], 'jump-app-dev/back-python:8444');
      t.equal(stored.spec.pluginConfig.timeoutMs, 250);
      t.ok(
        stored.metadata.managedFields.some(
          (f: KubeObject) => f.manager === 'meshwasm' && f.operation === 'Apply',
        ),
        'field manager meshwasm',
      );

      result = await run('apply', ['--dry-run=server', '--workload', 'front']);
      t.equal(result.stdout, 'wasmplugins.extensions.istio.io/meshwasm-front created (server dry run)\n');
      t.equal(
        await api.get(type, 'jump-app-dev', 'meshwasm-front'),
        undefined,
        'the dry run persisted nothing',
      );

      // The shipped CLI (dist/, oclif): back to the defaults.
      const cli = runCli(['apply'], { env });
      t.equal(cli.code, 0, cli.stderr);
      t.equal(cli.stdout, 'wasmplugins.extensions.istio.io/meshwasm-back-golang configured\n');
      t.equal(
        runCli(['apply'], { env }).stdout,
        'wasmplugins.extensions.istio.io/meshwasm-back-golang unchanged\n',
      );

      result = await run('apply', ['--output-dir', scratch]);
      t.equal(result.code, 2);
      t.match(result.stderr, /^Error: --output-dir: apply sends the objects to the cluster/);
      result = await run('apply', ['--instance', 'Not A Label']);
      t.equal(result.code, 2);
      t.match(result.stderr, /^Error: --instance: "Not A Label" is not a label value/);
      t.equal(result.stdout, '');
    },
  );

  await t.test('status: one hint per failure, exit 1 until everything checks out', async (t) => {
    let result = await run('status', ['--instance', 'back-golang']);
    t.equal(result.code, 1);
    t.match(
      result.stdout,
      'wasmplugins.extensions.istio.io/meshwasm-back-golang -n jump-app-dev (instance back-golang)',
    );
    t.match(result.stdout, 'no conditions (no controller has written status yet)');
    t.match(result.stdout, 'hint: callout Service jump-app-dev/back-python does not exist');
    t.match(result.stdout, 'hint: no pods run in jump-app-dev');

    const service = (port: number): KubeObject => ({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { namespace: 'jump-app-dev', name: 'back-python' },
      spec: { selector: { app: 'back-python' }, ports: [{ name: 'http', port, targetPort: 8080 }] },
    });
    await install(api, service(8080));
    result = await run('status', ['--instance', 'back-golang']);
    t.match(
      result.stdout,
      'hint: callout Service jump-app-dev/back-python has no port 8444 (its ports: 8080)',
    );
    await remove(api, 'v1', 'Service', 'jump-app-dev', 'back-python');
    await install(api, service(8444));

    const pod = (name: string, app: string): KubeObject => ({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { namespace: 'jump-app-dev', name, labels: { app } },
      spec: { containers: [{ name: 'main', image: 'example.com/app:1' }] },
    });
    await install(api, pod('front-1', 'front'));
    result = await run('status', ['--instance', 'back-golang']);
    t.match(
      result.stdout,
      'hint: no pod in jump-app-dev matches the selector app=back-golang of wasmplugins.extensions.istio.io/meshwasm-back-golang (1 pods there, app labels: front)',
    );
    t.notMatch(result.stdout, 'callout Service');
    await install(api, pod('back-golang-1', 'back-golang'));
    result = await run('status', ['--instance', 'back-golang']);
    t.equal(result.code, 0, result.stdout);
    t.match(result.stdout, /^ok: /m);

    // A referenced pull secret that does not exist.
    await install(api, namespace('pull-test'));
    const digest = 'sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08';
    const pinned = [
      '-n',
      'pull-test',
      '--callout-namespace',
      'jump-app-dev',
      '--instance',
      'pinned',
      '--image',
      `oci://quay.io/meshwasm/callout-filter:0.1.0@${digest}`,
      '--pull-secret',
      'quay-pull',
    ];
    t.equal((await run('apply', pinned)).code, 0);
    result = await run('status', ['--instance', 'pinned']);
    t.equal(result.code, 1);
    t.match(result.stdout, 'hint: image pull secret quay-pull does not exist in pull-test');
    await install(api, {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { namespace: 'pull-test', name: 'quay-pull' },
      type: 'kubernetes.io/dockerconfigjson',
      data: { '.dockerconfigjson': Buffer.from('{"auths":{}}').toString('base64') },
    });
    result = await run('status', ['--instance', 'pinned']);
    t.notMatch(result.stdout, 'pull secret');

    // Envoy Gateway: the conditions its controller writes on the policies' ancestors.
    result = await run('apply', ['--target', 'envoy-gateway', '--instance', 'eg-route']);
    t.equal(result.code, 0, result.stderr);
    t.equal(
      result.stdout,
      'envoyextensionpolicies.gateway.envoyproxy.io/meshwasm-back-golang created\nenvoypatchpolicies.gateway.envoyproxy.io/meshwasm-back-python created\n',
    );
    const ancestor = (type: string, reason: string, message: string) => ({
      ancestors: [
        {
          ancestorRef: {
            group: 'gateway.networking.k8s.io',
            kind: 'Gateway',
            name: 'eg',
            namespace: 'jump-app-dev',
          },
          controllerName: 'gateway.envoyproxy.io/gatewayclass-controller',
          conditions: [
            {
              type,
              status: 'False',
              reason,
              message,
              lastTransitionTime: '2026-01-01T00:00:00Z',
              observedGeneration: 1,
            },
          ],
        },
      ],
    });
    const meta = (kind: string, name: string) => ({
      apiVersion: 'gateway.envoyproxy.io/v1alpha1',
      kind,
      metadata: { namespace: 'jump-app-dev', name },
    });
    await writeStatus(
      api,
      meta('EnvoyPatchPolicy', 'meshwasm-back-python'),
      ancestor('Accepted', 'Disabled', 'EnvoyPatchPolicy is disabled in the EnvoyGateway configuration'),
    );
    await writeStatus(
      api,
      meta('EnvoyExtensionPolicy', 'meshwasm-back-golang'),
      ancestor('Accepted', 'Invalid', 'Failed to pull the Wasm module'),
    );
    result = await run('status', ['--instance', 'eg-route']);
    t.equal(result.code, 1);
    t.match(
      result.stdout,
      '  Gateway/eg Accepted=False Disabled: EnvoyPatchPolicy is disabled in the EnvoyGateway configuration',
    );
    t.match(
      result.stdout,
      'hint: envoypatchpolicies.gateway.envoyproxy.io/meshwasm-back-python in jump-app-dev: EnvoyPatchPolicy is disabled in Envoy Gateway',
    );
    t.match(
      result.stdout,
      'hint: envoyextensionpolicies.gateway.envoyproxy.io/meshwasm-back-golang in jump-app-dev: Accepted is False for Gateway/eg (Invalid): Failed to pull the Wasm module',
    );
    const json = JSON.parse((await run('status', ['--instance', 'eg-route', '-o', 'json'])).stdout);
    t.equal(json.objects.length, 2);
    t.equal(json.hints.length, 2, 'the EnvoyExtensionPolicy targets an HTTPRoute: no selector, no pod check');

    result = await run('status', ['--instance', 'nope']);
    t.equal(result.code, 1);
    t.match(result.stdout, 'hint: no objects of meshwasm instance nope: run meshwasm apply first');
  });

  await t.test('apply: a field another manager owns is a conflict until --force-conflicts', async (t) => {
    await install(
      api,
      {
        apiVersion: 'extensions.istio.io/v1alpha1',
        kind: 'WasmPlugin',
        metadata: { namespace: 'jump-app-dev', name: 'meshwasm-back-golang' },
        spec: { phase: 'AUTHN' },
      },
      'kubectl-edit',
    );
    let result = await run('apply');
    t.equal(result.code, 1);
    t.equal(result.stdout, '');
    t.match(
      result.stderr,
      /^Error: wasmplugins\.extensions\.istio\.io\/meshwasm-back-golang in jump-app-dev: another field manager owns fields meshwasm sets: \.spec\.phase \(owned by field manager "kubectl-edit"\); rerun with --force-conflicts/,
    );
    t.notMatch(result.stderr, /\n\s+at /, 'no stack trace');
    result = await run('apply', ['--force-conflicts']);
    t.equal(result.stdout, 'wasmplugins.extensions.istio.io/meshwasm-back-golang configured\n');
  });

  await t.test('faults: 401, 403 naming verb and resource, unknown context', async (t) => {
    const badToken = join(scratch, 'bad-token.kubeconfig');
    writeFileSync(
      badToken,
      readFileSync(server.kubeconfig, 'utf8').replace(
        /token: [0-9a-f]+\n(- name: restricted)/,
        'token: wrong\n$1',
      ),
    );
    let result = await run('detect', [], { KUBECONFIG: badToken });
    t.equal(result.code, 1);
    t.match(
      result.stderr,
      /^Error: the API server at https:\/\/127\.0\.0\.1:\d+ rejected the credentials of user admin \(context admin\): 401 Unauthorized/,
    );

    result = await run('detect', ['--context', 'restricted']);
    t.equal(result.code, 1);
    t.match(
      result.stderr,
      /^Error: forbidden: user restricted \(context restricted\) may not list deployments\.apps cluster-wide/,
    );
    await install(api, {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: { namespace: 'jump-app-dev', name: 'read-wasmplugins' },
      rules: [{ apiGroups: ['extensions.istio.io'], resources: ['wasmplugins'], verbs: ['get', 'list'] }],
    });
    await install(api, {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { namespace: 'jump-app-dev', name: 'read-wasmplugins' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'read-wasmplugins' },
      subjects: [{ kind: 'User', name: 'meshwasm-restricted', apiGroup: 'rbac.authorization.k8s.io' }],
    });
    await eventually(
      'the RoleBinding to take effect',
      async () => !/may not get/.test((await run('apply', ['--context', 'restricted'])).stderr),
    );
    result = await run('apply', ['--context', 'restricted']);
    t.equal(result.code, 1);
    t.match(
      result.stderr,
      /^Error: forbidden: user restricted \(context restricted\) may not patch wasmplugins\.extensions\.istio\.io in namespace jump-app-dev/,
    );

    result = await run('status', ['--context', 'nope']);
    t.equal(result.code, 2);
    t.match(
      result.stderr,
      /^Error: --context: no context "nope" in the kubeconfig; use one of admin, restricted/,
    );
  });

  await t.test('delete removes every object with the instance label, across kinds', async (t) => {
    let result = await run('delete', ['--instance', 'eg-route']);
    t.equal(result.code, 0, result.stderr);
    t.equal(
      result.stdout,
      'envoyextensionpolicies.gateway.envoyproxy.io/meshwasm-back-golang -n jump-app-dev deleted\nenvoypatchpolicies.gateway.envoyproxy.io/meshwasm-back-python -n jump-app-dev deleted\n',
    );
    result = await run('delete', ['--dry-run=server']);
    t.match(result.stdout, /meshwasm-back-golang -n jump-app-dev deleted \(server dry run\)/);
    result = await run('delete');
    t.equal(result.stdout.split('\n').filter(Boolean).length, 2, 'the two WasmPlugins (back-golang, pinned)');
    result = await run('delete');
    t.equal(result.stdout, '');
    t.match(result.stderr, 'nothing to delete');
  });

  await t.test('a namespace that does not exist: apply names it and how to create it', async (t) => {
    const result = await run('apply', ['--namespace', 'no-such-ns']);
    t.equal(result.code, 1);
    t.equal(result.stdout, '');
    t.match(
      result.stderr,
      /^Error: wasmplugins\.extensions\.istio\.io\/meshwasm-back-golang: namespace no-such-ns does not exist; create it \(kubectl create namespace no-such-ns\) or render for another with --namespace\n$/,
    );
  });

  await t.test('missing CRDs: apply names the mesh component and changes nothing', async (t) => {
    await remove(
      api,
      'apiextensions.k8s.io/v1',
      'CustomResourceDefinition',
      undefined,
      'envoypatchpolicies.gateway.envoyproxy.io',
    );
    await eventually('EnvoyPatchPolicy to go', async () => {
      const fresh = new (await import('../cluster/api.js')).Api(api.connection);
      return !(await fresh.resourceType('gateway.envoyproxy.io/v1alpha1', 'EnvoyPatchPolicy'));
    });
    const result = await run('apply', ['--target', 'envoy-gateway']);
    t.equal(result.code, 1);
    t.equal(result.stdout, '');
    t.match(
      result.stderr,
      /^Error: the API server at \S+ does not serve EnvoyPatchPolicy \(gateway\.envoyproxy\.io\/v1alpha1\): the CRDs of Envoy Gateway are not installed/,
    );
    const type = (await api.resourceType('gateway.envoyproxy.io/v1alpha1', 'EnvoyExtensionPolicy'))!;
    t.same(
      await api.list(type, { namespace: 'jump-app-dev' }),
      [],
      'the EnvoyExtensionPolicy was not applied either',
    );
  });

  await t.test('a stopped API server: cannot reach it', async (t) => {
    server.stop();
    const result = await run('detect');
    t.equal(result.code, 1);
    t.match(
      result.stderr,
      /^Error: cannot reach the API server at https:\/\/127\.0\.0\.1:\d+ \(context admin\): connect ECONNREFUSED/,
    );
    t.equal(result.stdout, '');
  });
});

t.test('no kubeconfig at all: a usage error that says how to give one', async (t) => {
  const home = mkdtempSync(join(tmpdir(), 'meshwasm-home-'));
  const result = await runCommand('status', [], { KUBECONFIG: '', HOME: home });
  t.equal(result.code, 2);
  t.match(
    result.stderr,
    /^Error: no kubeconfig: set KUBECONFIG or --kubeconfig, or create ~\/\.kube\/config/,
  );
  const missing = await runCommand('detect', ['--kubeconfig', join(home, 'nope')]);
  t.equal(missing.code, 2);
  t.match(missing.stderr, /^Error: --kubeconfig: \S+nope does not exist/);
  const badEnv = await runCommand('delete', [], { KUBECONFIG: join(home, 'nope') });
  t.match(badEnv.stderr, /^Error: KUBECONFIG=\S+: no such file/);
  const broken = join(home, 'broken');
  copyFileSync(join(process.cwd(), 'package.json'), broken);
  const unreadable = await runCommand('detect', ['--kubeconfig', broken]);
  t.equal(unreadable.code, 2);
  t.match(unreadable.stderr, /^Error: kubeconfig: /);
});
