// What reading Istio's source said about render shapes meshwasm used to emit (issue 13 §2), settled
// by istiod's own translation (test/istio, both Istio versions). Each case feeds Istio the old shape
// and shows what went wrong with it; test/istio-xds.test.ts shows the shapes render emits now. These
// stay as regression tests: if a later Istio changes the behaviour, the reason for a render choice
// has gone and the test says so.
import { join } from 'node:path';
import t from 'tap';

import { requireComponent } from './helpers/components.js';
import { clusterNames, ISTIO_VERSIONS, placements, runXds, type IstioVersion } from './helpers/istio-xds.js';
import { runCommand } from './helpers/render-run.js';

const BACK_PYTHON = 'outbound|8444||back-python.jump-app-dev.svc.cluster.local';
const SIDECARS = ['back-golang', 'back-python', 'front-javascript'];

function version(label: IstioVersion['label']): IstioVersion {
  return ISTIO_VERSIONS.find((v) => v.label === label)!;
}

async function render(args: string[]): Promise<string> {
  const run = await runCommand('render', args);
  if (run.code !== 0) throw new Error(`render ${args.join(' ')} exited ${run.code}: ${run.stderr}`);
  return run.stdout;
}

function waypointRender(target: 'ossm' | 'envoyfilter', mesh: string): Promise<string> {
  return render(['--target', target, '--mesh-version', mesh, '--shape', 'waypoint']);
}

/** The waypoint render with its targetRefs aimed at back-golang's Service, as meshwasm rendered it before. */
function targetService(manifest: string): string {
  return manifest.replace(
    /(targetRefs:\n\s+- group: )gateway\.networking\.k8s\.io(\n\s+kind: )Gateway(\n\s+name: )waypoint/,
    '$1""$2Service$3back-golang',
  );
}

function withSidecars(proxies: Record<string, unknown>, has: (name: string) => boolean): string[] {
  return SIDECARS.filter((name) => name in proxies && has(name));
}

t.test('§2.1 Istio 1.27+: an EnvoyFilter targeting the Service never reaches the waypoint', async (t) => {
  const dir = requireComponent(t, 'istio-xds');
  if (!dir) return;
  const istio = version('current');
  const now = await waypointRender('ossm', istio.mesh);
  t.match(now, /kind: Gateway\n\s+name: waypoint/, 'render targets the waypoint Gateway');
  // The shape meshwasm emitted before: the companion EnvoyFilter aimed at back-golang's Service.
  const old = targetService(now);
  t.not(old, now, 'the companion EnvoyFilter now targets the Service');
  const before = runXds(join(dir, istio.binary), istio, old);
  t.notOk(clusterNames(before.waypoint).includes(BACK_PYTHON), 'no callout cluster on the waypoint');
  const after = runXds(join(dir, istio.binary), istio, now);
  t.ok(clusterNames(after.waypoint).includes(BACK_PYTHON), 'targeting the Gateway builds it');

  const filterOnly = await waypointRender('envoyfilter', istio.mesh);
  const oldFilter = targetService(filterOnly);
  t.not(oldFilter, filterOnly, '--target envoyfilter now targets the Service');
  const landed = runXds(join(dir, istio.binary), istio, oldFilter);
  t.same(placements(landed.waypoint), [], 'targeting the Service, nothing attaches to the waypoint');
  t.same(
    withSidecars(landed, (name) => placements(landed[name]).length > 0),
    [],
    'nor anywhere else',
  );
});

t.test(
  '§2.2 Istio 1.26 ignores EnvoyFilter targetRefs: a waypoint filter without a selector reaches every sidecar',
  async (t) => {
    const dir = requireComponent(t, 'istio-xds');
    if (!dir) return;
    const istio = version('1.26');
    const forNewer = await waypointRender('envoyfilter', version('current').mesh);
    // The shape meshwasm emitted before: targetRefs to the Service, the router of every inbound chain.
    const old = targetService(forNewer).replace(/\n\s+name: inbound-vip\|[^\n]+/g, '');
    t.notMatch(old, /workloadSelector|inbound-vip/, 'the old shape relies on targetRefs alone');
    const before = runXds(join(dir, istio.binary), istio, old);
    t.same(
      withSidecars(before, (name) => placements(before[name]).length > 0),
      SIDECARS,
      'on Istio 1.26 it lands on every sidecar of jump-app-dev, back-python included',
    );

    const for126 = await waypointRender('envoyfilter', istio.mesh);
    t.match(for126, /workloadSelector:\n\s+labels:\n\s+gateway\.networking\.k8s\.io\/gateway-name: waypoint/);
    for (const [what, manifest] of [
      ['the 1.26 render (workloadSelector)', for126],
      ["the 1.27+ render (its chain match names the waypoint's chain)", forNewer],
    ] as const) {
      const landed = runXds(join(dir, istio.binary), istio, manifest);
      t.not(placements(landed.waypoint).length, 0, `${what} lands on the waypoint`);
      t.same(
        withSidecars(landed, (name) => placements(landed[name]).length > 0),
        [],
        `${what}: on no sidecar`,
      );
    }
  },
);

for (const label of ['current', '1.26'] as const) {
  t.test(`§2.4 Istio ${label}: a gateway's filter in the workload namespace is never selected`, async (t) => {
    const dir = requireComponent(t, 'istio-xds');
    if (!dir) return;
    const istio = version(label);
    for (const target of ['ossm', 'envoyfilter']) {
      const now = await render(['--target', target, '--mesh-version', istio.mesh, '--shape', 'gateway']);
      t.match(now, /namespace: istio-system/, `${target}: rendered into the gateway's namespace`);
      // Where meshwasm used to put it: --namespace (jump-app-dev), next to the workload.
      const old = now.replace(/namespace: istio-system/g, 'namespace: jump-app-dev');
      const before = runXds(join(dir, istio.binary), istio, old);
      t.same(
        placements(before.ingressgateway),
        [],
        `${target}: in jump-app-dev it never reaches the gateway`,
      );
      const after = runXds(join(dir, istio.binary), istio, now);
      t.not(placements(after.ingressgateway).length, 0, `${target}: in istio-system it does`);
      t.ok(
        clusterNames(after.ingressgateway).includes(BACK_PYTHON),
        `${target}: and the callout still goes to back-python in jump-app-dev`,
      );
    }
  });
}
