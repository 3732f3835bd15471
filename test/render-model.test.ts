// The target-independent model: callout cluster names per shape and version (mesh-targets.md
// §e–f), attachment per shape, module sources, the rules that reject impossible combinations, and
// the filter configuration printed byte-identically by every target.
import t from 'tap';

import { formatYaml, render } from '../renderers/render.js';
import { resolveValues } from '../renderers/values.js';
import { model, problem } from './helpers/model.js';

const OUTBOUND = 'outbound|8444||back-python.jump-app-dev.svc.cluster.local';

t.test('callout cluster per target, shape and version', async (t) => {
  const cases: [Record<string, unknown>, string, string][] = [
    [{}, OUTBOUND, 'mesh'],
    [{ shape: 'gateway' }, OUTBOUND, 'mesh'],
    [{ shape: 'gateway-api', gateway: 'gw', meshVersion: 'ossm-3.1' }, OUTBOUND, 'mesh'],
    [{ shape: 'waypoint', meshVersion: 'ossm-3.0' }, 'meshwasm-back-python', 'strict-dns'],
    [{ shape: 'waypoint', meshVersion: 'ossm-3.1' }, OUTBOUND, 'referenced-service'],
    [{ target: 'envoyfilter' }, OUTBOUND, 'mesh'],
    [{ target: 'envoyfilter', shape: 'gateway', meshVersion: 'ossm-3.0' }, OUTBOUND, 'mesh'],
    [{ target: 'envoyfilter', shape: 'gateway', meshVersion: 'istio-1.26' }, OUTBOUND, 'referenced-service'],
    [
      { target: 'envoyfilter', shape: 'waypoint', meshVersion: 'istio-1.25' },
      'meshwasm-back-python',
      'strict-dns',
    ],
    [{ target: 'envoy-gateway' }, 'meshwasm-back-python', 'strict-dns'],
    [
      { target: 'envoy-gateway', calloutCluster: 'httproute/jump-app-dev/back-python/rule/0' },
      'httproute/jump-app-dev/back-python/rule/0',
      'existing',
    ],
    [
      { calloutPort: '9000', calloutNamespace: 'other', clusterDomain: 'corp.local' },
      'outbound|9000||back-python.other.svc.corp.local',
      'mesh',
    ],
  ];
  for (const [flags, name, kind] of cases) {
    const m = model(flags);
    t.equal(m.callout.name, name, `${JSON.stringify(flags)} → ${name}`);
    t.equal(m.callout.provision.kind, kind);
    t.equal(m.filterConfig.cluster, name, 'the filter calls that cluster');
  }
});

t.test('authority: derived by the filter for Istio cluster names, the Service host otherwise', async (t) => {
  t.equal(model({}).filterConfig.authority, undefined);
  t.equal(
    model({ target: 'envoy-gateway' }).filterConfig.authority,
    'back-python.jump-app-dev.svc.cluster.local',
  );
  t.equal(model({ calloutAuthority: 'api.example.com' }).filterConfig.authority, 'api.example.com');
});

t.test('attachment per shape and version', async (t) => {
  t.same(model({}).attachment, { selector: { app: 'back-golang' } });
  t.same(model({ shape: 'gateway' }).attachment, { selector: { istio: 'ingressgateway' } });
  t.same(model({ shape: 'gateway-api', gateway: 'gw', meshVersion: 'ossm-2.5' }).attachment, {
    // OSSM 2.5 is Istio 1.18: its Gateway API deployments carry only the older label.
    selector: { 'istio.io/gateway-name': 'gw' },
  });
  t.same(model({ shape: 'gateway-api', gateway: 'gw', meshVersion: 'ossm-2.6' }).attachment, {
    targetRefs: [{ group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'gw' }],
  });
  t.same(model({ target: 'envoyfilter', shape: 'gateway-api', gateway: 'gw' }).attachment, {
    selector: { 'gateway.networking.k8s.io/gateway-name': 'gw' },
  });
  t.same(model({ shape: 'waypoint' }).attachment, {
    targetRefs: [{ group: '', kind: 'Service', name: 'back-golang' }],
  });
  t.same(model({ target: 'envoy-gateway' }).attachment, {
    targetRefs: [{ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', name: 'back-golang' }],
  });
  t.same(model({ selector: 'app=x' }).attachment, { selector: { app: 'x' } });
  t.equal(model({ shape: 'gateway-api', gateway: 'gw' }).name, 'meshwasm-gw', 'named after the Gateway');
  t.equal(model({ shape: 'gateway' }).name, 'meshwasm-ingressgateway');
});

t.test('module sources and their checksums', async (t) => {
  const digest = 'a'.repeat(64);
  t.match(model({}).module, {
    kind: 'oci',
    url: 'oci://quay.io/meshwasm/callout-filter:0.1.0',
    pinned: false,
    isDefault: true,
  });
  t.match(model({ image: `oci://r.example.com/a/b@sha256:${digest}` }).module, {
    kind: 'oci',
    sha256: digest,
    pinned: true,
    reference: `r.example.com/a/b@sha256:${digest}`,
  });
  t.match(model({ image: 'oci://r.example.com:5000/a/b:1', sha256: `sha256:${digest}` }).module, {
    sha256: digest,
    pinned: true,
  });
  t.match(model({ url: 'https://h.example.com:8443/p.wasm', sha256: digest }).module, {
    kind: 'http',
    host: 'h.example.com',
    port: 8443,
    tls: true,
    sha256: digest,
  });
  t.match(model({ url: 'http://h.example.com/p.wasm' }).module, { kind: 'http', port: 80, tls: false });
  t.match(model({ file: '/var/local/wasm/plugin.wasm' }).module, {
    kind: 'file',
    path: '/var/local/wasm/plugin.wasm',
  });
});

t.test('notes for stderr', async (t) => {
  t.match(model({}).notes, [
    /^warning: the default image oci:\/\/quay\.io\/meshwasm\/callout-filter:0\.1\.0 is not pinned/,
  ]);
  t.same(model({ image: `oci://r.example.com/a/b@sha256:${'b'.repeat(64)}` }).notes, []);
  t.match(
    model({ target: 'envoy-gateway', image: `oci://r.example.com/a/b@sha256:${'b'.repeat(64)}` }).notes,
    [/enableEnvoyPatchPolicy: true/],
  );
  t.match(
    model({
      shape: 'waypoint',
      meshVersion: 'ossm-3.0',
      image: `oci://r.example.com/a/b@sha256:${'b'.repeat(64)}`,
    }).notes,
    [/no Istio mTLS/],
  );
  t.match(model({ url: 'http://h.example.com/p.wasm' }).notes, [/is not verified/, /plain HTTP/]);
});

t.test('impossible combinations name the flag and the fix', async (t) => {
  const cases: [Record<string, unknown>, RegExp][] = [
    [
      { meshVersion: 'ossm-2.4' },
      /^--mesh-version: "ossm-2\.4" is not a mesh version meshwasm knows; use one of ossm-2\.5,/,
    ],
    [
      { target: 'envoy-gateway', meshVersion: 'istio-1.30' },
      /^--mesh-version: istio-1\.30 does not run --target envoy-gateway; use --mesh-version eg-1\.9/,
    ],
    [{ meshVersion: 'eg-1.9' }, /^--mesh-version: eg-1\.9 does not run --target ossm/],
    [
      { target: 'envoy-gateway', shape: 'sidecar' },
      /^--shape: --target envoy-gateway has no sidecar shape; use one of gateway-api, route/,
    ],
    [{ shape: 'route' }, /^--shape: --target ossm has no route shape/],
    [
      { shape: 'waypoint', meshVersion: 'ossm-2.5' },
      /^--shape: waypoints are attached by targetRefs, which ossm-2\.5 does not have; use --mesh-version ossm-3\.0\+/,
    ],
    [{ targetRefs: 'Gateway/x' }, /^--target-ref: sidecars ignore a policy with targetRefs/],
    [{ shape: 'gateway', targetRefs: 'Gateway/x' }, /^--target-ref: gateways ignore/],
    [{ shape: 'waypoint', selector: 'app=x' }, /^--selector: waypoints never honor a selector/],
    [
      { shape: 'gateway-api', selector: 'a=b', targetRefs: 'Gateway/x' },
      /^--target-ref: only one of --selector and --target-ref/,
    ],
    [
      { target: 'envoy-gateway', shape: 'gateway-api', selector: 'a=b' },
      /^--selector: Envoy Gateway attaches/,
    ],
    [
      { shape: 'waypoint', targetRefs: 'HTTPRoute/x' },
      /^--target-ref: --shape waypoint cannot target a HTTPRoute/,
    ],
    [
      { target: 'envoy-gateway', targetRefs: [{ kind: 'HTTPRoute', group: 'example.com', name: 'x' }] },
      /only targets group gateway\.networking\.k8s\.io/,
    ],
    [
      { shape: 'gateway-api', targetRefs: 'Gateway/x', meshVersion: 'ossm-2.5' },
      /^--target-ref: ossm-2\.5 has no targetRefs on WasmPlugin/,
    ],
    [
      { shape: 'gateway-api', targetRefs: 'Gateway/x,Gateway/y', meshVersion: 'ossm-2.6' },
      /only the singular targetRef; give one target/,
    ],
    [
      { target: 'envoyfilter', shape: 'gateway-api', targetRefs: 'Gateway/x', meshVersion: 'ossm-2.6' },
      /has no targetRefs on EnvoyFilter/,
    ],
    [{ shape: 'gateway-api' }, /^--gateway: is required for --shape gateway-api/],
    [
      { target: 'envoy-gateway', shape: 'gateway-api', gateway: 'eg', gatewayNamespace: 'other' },
      /^--gateway-namespace: an EnvoyExtensionPolicy must live in its Gateway's namespace; set --namespace other/,
    ],
    [
      { shape: 'gateway-api', gateway: 'a'.repeat(64), meshVersion: 'ossm-2.5' },
      /^--gateway: .* cannot be matched by the istio\.io\/gateway-name pod label/,
    ],
    [
      { image: 'oci://r.example.com/a', url: 'https://x.example.com/p.wasm' },
      /^--url: --image and --url both name the module; give exactly one/,
    ],
    [
      { image: 'quay.io/a/b:1' },
      /^--image: "quay\.io\/a\/b:1" is not an OCI image reference; .*prefix it with oci:\/\//,
    ],
    [{ image: 'oci://Quay.io/A' }, /^--image: .* is not an OCI image reference/],
    [
      { image: `oci://r.example.com/a@sha256:${'a'.repeat(64)}`, sha256: 'b'.repeat(64) },
      /^--sha256: does not match the digest in --image/,
    ],
    [{ url: 'not a url' }, /^--url: "not a url" is not a URL/],
    [{ url: 'ftp://x.example.com/p.wasm' }, /^--url: ftp: URLs cannot serve a module/],
    [{ url: 'https://u:p@x.example.com/p.wasm' }, /^--url: credentials in the URL/],
    [{ file: 'relative/plugin.wasm' }, /^--file: "relative\/plugin\.wasm" is not an absolute file path/],
    [
      { target: 'envoy-gateway', file: '/p.wasm' },
      /^--file: Envoy Gateway loads modules from an image or a URL only/,
    ],
    [
      { target: 'envoyfilter', url: 'https://x.example.com/p.wasm' },
      /^--sha256: is required with --url for --target envoyfilter/,
    ],
    [
      { target: 'envoyfilter', file: '/p.wasm', sha256: 'a'.repeat(64) },
      /^--sha256: has no place with --file/,
    ],
    [{ pullSecret: 's', file: '/p.wasm' }, /^--pull-secret: only applies to an --image module/],
    [
      { target: 'envoyfilter', pullSecret: 's' },
      /^--pull-secret: the EnvoyFilter ECDS path has no pull-secret plumbing/,
    ],
    [{ target: 'envoyfilter', pullPolicy: 'Always' }, /^--pull-policy: EnvoyFilter has no pull policy/],
    [{ pullPolicy: 'Always', file: '/p.wasm' }, /^--pull-policy: a --file module is not pulled/],
    [
      { target: 'envoy-gateway', pullPolicy: 'Always', sha256: 'a'.repeat(64) },
      /^--pull-policy: Envoy Gateway ignores the pull policy/,
    ],
    [
      { failOpen: true, failReload: true, meshVersion: 'istio-1.30' },
      /^--fail-reload: --fail-open and --fail-reload are two different failure policies/,
    ],
    [
      { failOpen: true, meshVersion: 'ossm-2.5' },
      /^--fail-open: WasmPlugin on ossm-2\.5 has no failStrategy/,
    ],
    [{ failReload: true, target: 'envoy-gateway' }, /^--fail-reload: Envoy Gateway has only failOpen/],
    [
      { failReload: true, meshVersion: 'ossm-3.1' },
      /^--fail-reload: FAIL_RELOAD needs ossm-3\.2\+ \/ istio-1\.27\+, not ossm-3\.1/,
    ],
    [
      { target: 'envoyfilter', phase: 'AUTHN' },
      /^--phase: only WasmPlugin has phases; the EnvoyFilter is inserted just before the router/,
    ],
    [{ target: 'envoy-gateway', phase: 'AUTHN' }, /^--phase: .*Envoy Gateway orders wasm filters itself/],
    [{ target: 'envoy-gateway', priority: '1' }, /^--priority: Envoy Gateway has no wasm priority/],
    [{ mode: 'blocking', fanOut: '0' }, /^--fan-out: blocking mode with --fan-out 0/],
    [{ failureStatus: '503' }, /^--failure-status: only applies to --mode blocking/],
    [{ outcomeHeader: 'x-o' }, /^--outcome-header: only applies to --mode blocking/],
    [
      { calloutPath: 'jump' },
      /^--callout-path: "jump" is rejected by filter\/config\.schema\.json \(must match \^\/.*\)\. :path of the callout/,
    ],
    [{ calloutMethod: 'get' }, /^--callout-method: "get" is rejected by filter\/config\.schema\.json/],
    [
      { calloutTimeoutMs: '0' },
      /^--callout-timeout-ms: 0 is rejected by filter\/config\.schema\.json \(must be >= 1\)/,
    ],
    [
      { mode: 'blocking', failureStatus: '700' },
      /^--failure-status: 700 is rejected by filter\/config\.schema\.json/,
    ],
    [{ sampleRate: '2' }, /^--sample-rate: 2 is rejected by filter\/config\.schema\.json/],
    [
      { calloutHeaders: ['X-Upper=1'] },
      /^--callout-header: \{"X-Upper":"1"\} is rejected by filter\/config\.schema\.json/,
    ],
    [
      { calloutCluster: 'x'.repeat(600) },
      /^--callout-cluster: "x+\.\.\. is rejected by filter\/config\.schema\.json/,
    ],
  ];
  for (const [flags, expected] of cases)
    t.match(problem(flags), expected, JSON.stringify(flags).slice(0, 120));
});

t.test('the filter configuration is byte-identical on every target', async (t) => {
  const flags = {
    calloutCluster: 'shared-cluster',
    calloutPath: '/jump?x=a: b#c',
    calloutHeaders: ['x-q="q" \'s\''],
    image: `oci://r.example.com/a/b@sha256:${'c'.repeat(64)}`,
  };
  const texts: string[] = [];
  for (const target of ['ossm', 'envoyfilter', 'envoy-gateway']) {
    const result = await render(resolveValues({ flags: { ...flags, target } }));
    texts.push(formatYaml(result.documents));
    t.equal(
      result.model.filterConfigJson,
      (await render(resolveValues({ flags: { ...flags, target: 'ossm' } }))).model.filterConfigJson,
    );
  }
  const json = (await render(resolveValues({ flags }))).model.filterConfigJson;
  t.match(texts[0], `  pluginConfig: ${json}\n`, 'WasmPlugin pluginConfig');
  t.match(texts[1], `                ${json}\n`, 'EnvoyFilter configuration value');
  t.match(texts[2], `    config: ${json}\n`, 'EnvoyExtensionPolicy config');
});

t.test('an image tag is pinned when a pinner is given (oci/pin.ts seam)', async (t) => {
  const digest = `sha256:${'d'.repeat(64)}`;
  const asked: string[] = [];
  const result = await render(resolveValues({}), {
    pinImage: async (ref) => {
      asked.push(ref);
      return { reference: `quay.io/meshwasm/callout-filter:0.1.0@${digest}`, digest };
    },
  });
  t.same(asked, ['oci://quay.io/meshwasm/callout-filter:0.1.0']);
  const text = formatYaml(result.documents);
  t.match(text, `url: oci://quay.io/meshwasm/callout-filter:0.1.0@${digest}`);
  t.match(text, `sha256: ${'d'.repeat(64)}`);
  t.same(result.notes, [], 'no unpinned warning');
  const pinned = await render(resolveValues({ flags: { image: `oci://r.example.com/a@${digest}` } }), {
    pinImage: async () => t.fail('not asked') as never,
  });
  t.equal(pinned.model.module.sha256, 'd'.repeat(64), 'a digest in the reference needs no pinning');
});

t.test('output that fails its own checks is a bug, and nothing is returned', async (t) => {
  const { model, documents } = await render(resolveValues({ flags: { target: 'envoyfilter' } }));
  const { checkRendered } = await import('../renderers/render.js');
  const { RenderBug } = await import('../renderers/errors.js');
  const tamper = async (edit: (text: string) => string) => {
    try {
      await checkRendered([{ ...documents[0], text: edit(documents[0].text) }], model);
    } catch (error) {
      t.ok(error instanceof RenderBug, 'RenderBug');
      t.equal((error as { exitCode: number }).exitCode, 1);
      return (error as Error).message;
    }
    return t.fail('accepted tampered output') as never;
  };
  t.match(
    await tamper((s) => s.replace('"path": "/jump"', '"path": "/other"')),
    /^meshwasm bug: EnvoyFilter meshwasm-back-golang: the filter configuration parses back different/,
  );
  t.match(
    await tamper((s) => s.replace('name: meshwasm-back-golang\n', 'name: someone-else\n')),
    /parses back with a different \/name/,
  );
  t.match(
    await tamper((s) => s.replace('  workloadSelector:', '  workloadSelector: [\n')),
    /^meshwasm bug: rendered output:\d+:\d+: /,
  );
  t.match(await tamper((s) => `${s}---\nkind: Extra\n`), /rendered 1 documents but 2 parse back/);
  t.match(
    await tamper((s) => s.replace('root_id: meshwasm', 'root_id: other')),
    /root_id must be "meshwasm"[\s\S]*Please report this/,
  );
});
