// Where Istio's translation (test/istio-xds.test.ts) showed renders attaching to nothing or too
// much, the model now decides per mesh version: gateway resources in the gateway's namespace with
// the callout still in back-python's, the Gateway API name label per version, EnvoyFilters on
// waypoints targeting the waypoint (1.27+) or selecting its pods (1.22-1.26) and scoped to the
// workload's chain, and the module host's certificate checked against a CA.
import t from 'tap';

import { model, problem } from './helpers/model.js';

const OUTBOUND = 'outbound|8444||back-python.jump-app-dev.svc.cluster.local';
const CHAIN = 'inbound-vip|8442|http|back-golang.jump-app-dev.svc.cluster.local';

t.test('gateway resources live in the gateway namespace, the callout stays put', async (t) => {
  for (const target of ['ossm', 'envoyfilter']) {
    const m = model({ target, shape: 'gateway' });
    t.equal(m.namespace, 'istio-system', `${target}: the classic ingress gateway's namespace by default`);
    t.equal(m.callout.name, OUTBOUND, `${target}: still calls back-python in jump-app-dev`);
    t.equal(model({ target, shape: 'gateway', gatewayNamespace: 'ingress' }).namespace, 'ingress');
    const api = model({ target, shape: 'gateway-api', gateway: 'ingress', gatewayNamespace: 'gw' });
    t.equal(api.namespace, 'gw', `${target}: a Gateway API gateway's namespace`);
    t.equal(api.callout.name, OUTBOUND);
  }
  t.equal(
    model({ shape: 'gateway-api', gateway: 'ingress' }).namespace,
    'jump-app-dev',
    'defaults to --namespace',
  );
  t.equal(model({}).namespace, 'jump-app-dev', 'sidecars stay in the workload namespace');
});

t.test('Gateway API gateway pods are selected by the label their version puts on them', async (t) => {
  const selector = (meshVersion: string) =>
    model({ target: 'envoyfilter', shape: 'gateway-api', gateway: 'ingress', meshVersion }).attachment
      .selector;
  t.same(selector('ossm-2.5'), { 'istio.io/gateway-name': 'ingress' });
  t.same(selector('istio-1.20'), { 'istio.io/gateway-name': 'ingress' });
  t.same(selector('istio-1.21'), { 'gateway.networking.k8s.io/gateway-name': 'ingress' });
  t.same(selector('istio-1.30'), { 'gateway.networking.k8s.io/gateway-name': 'ingress' });
});

t.test('EnvoyFilters on waypoints reach the waypoint, scoped to the workload chain', async (t) => {
  const waypoint = { group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'waypoint' };
  const on = (meshVersion: string, extra: Record<string, unknown> = {}) =>
    model({ target: 'envoyfilter', shape: 'waypoint', meshVersion, ...extra }).envoyFilterAttachment;
  t.same(on('istio-1.27'), { targetRefs: [waypoint], chains: [CHAIN] }, '1.27+ match the Gateway only');
  t.same(
    on('istio-1.26'),
    { selector: { 'gateway.networking.k8s.io/gateway-name': 'waypoint' }, chains: [CHAIN] },
    '1.22-1.26 ignore targetRefs: select the waypoint pods',
  );
  t.same(on('istio-1.30', { gateway: 'wp', workloadPort: 80 }).targetRefs, [{ ...waypoint, name: 'wp' }]);
  t.same(on('istio-1.30', { workloadPort: 80 }).chains, [
    'inbound-vip|80|http|back-golang.jump-app-dev.svc.cluster.local',
  ]);
  t.same(
    on('istio-1.30', { targetRefs: [waypoint] }),
    { targetRefs: [waypoint], chains: undefined },
    'a Gateway target covers the whole waypoint',
  );
  t.same(
    on('istio-1.30', { targetRefs: [{ ...waypoint, kind: 'GatewayClass', name: 'istio-waypoint' }] })
      .targetRefs,
    [{ ...waypoint, kind: 'GatewayClass', name: 'istio-waypoint' }],
  );
  t.match(
    problem({
      target: 'envoyfilter',
      shape: 'waypoint',
      meshVersion: 'istio-1.26',
      targetRefs: [{ ...waypoint, kind: 'GatewayClass', name: 'istio-waypoint' }],
    }),
    /ignores EnvoyFilter targetRefs.*--mesh-version ossm-3\.2\+ \/ istio-1\.27\+/,
  );
  t.match(
    problem({
      target: 'envoyfilter',
      shape: 'waypoint',
      targetRefs: [{ group: 'networking.istio.io', kind: 'ServiceEntry', name: 'api' }],
    }),
    /ServiceEntry.*--target ossm/,
  );
  const ossm = model({ shape: 'waypoint', meshVersion: 'istio-1.30' });
  t.same(
    ossm.attachment.targetRefs,
    [{ group: '', kind: 'Service', name: 'back-golang' }],
    'the WasmPlugin keeps the Service',
  );
  t.same(ossm.envoyFilterAttachment.targetRefs, [waypoint], 'its callout EnvoyFilter targets the waypoint');
  t.same(model({}).envoyFilterAttachment, model({}).attachment, 'other shapes attach the same way');
});

t.test('the module host certificate is checked against the system CAs or --module-ca', async (t) => {
  const url = 'https://wasm.example.com/plugin.wasm';
  const sha256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
  const ca = (flags: Record<string, unknown>) => {
    const { module } = model({ target: 'envoyfilter', url, sha256, ...flags });
    return module.kind === 'http' ? module.ca : 'not http';
  };
  t.equal(ca({}), '/etc/ssl/certs/ca-certificates.crt');
  t.equal(ca({ moduleCa: '/etc/meshwasm/ca.pem' }), '/etc/meshwasm/ca.pem');
  t.equal(ca({ url: 'http://wasm.example.com/plugin.wasm' }), undefined, 'plain http has no TLS');
  t.match(
    problem({ target: 'envoyfilter', url, sha256, moduleCa: 'ca.pem' }),
    /module-ca.*absolute file path/,
  );
  t.match(
    problem({ target: 'envoyfilter', url: 'http://wasm.example.com/p.wasm', sha256, moduleCa: '/ca.pem' }),
    /module-ca.*only applies to an https/,
  );
  t.match(problem({ target: 'ossm', url, moduleCa: '/ca.pem' }), /module-ca.*--target envoyfilter/);
  t.match(problem({ target: 'envoyfilter', moduleCa: '/ca.pem' }), /module-ca.*https:\/\/ --url module/);
});
