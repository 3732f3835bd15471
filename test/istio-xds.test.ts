// istiod's own translation decides where the filter lands (issue 13 §1–2): every `ossm` and
// `envoyfilter` render (each shape, each module source) goes through Istio's pilot, built as
// test/istio for two Istio versions, together with the fixture cluster (test/fixtures/istio). From
// the xDS Istio computed for each proxy we assert: the Wasm filter (root_id meshwasm) sits in the
// right proxy's HTTP filter chain before the router with the configuration we rendered, oci://
// modules arrive by ECDS, the callout cluster exists on that proxy, and nothing lands on
// back-python, the bystander front-javascript, or any other proxy.
import { join } from 'node:path';
import t from 'tap';
import { parseAllDocuments } from 'yaml';

import { componentPath, requireComponent } from './helpers/components.js';
import {
  cluster,
  clusterNames,
  filterConfiguration,
  ISTIO_VERSIONS,
  placements,
  renderCases,
  runXds,
  type Placement,
  type ShapeName,
} from './helpers/istio-xds.js';
import { runCommand } from './helpers/render-run.js';

/** The one proxy each shape is for, and the listener/chain the filter must be on there. */
const EXPECTED: Record<ShapeName, { proxy: string; listener: RegExp; chain: RegExp }> = {
  // back-golang's inbound (mode SERVER): the chain for its port 8442 and the inbound catch-all that
  // takes HTTP to any other port of the pod.
  sidecar: {
    proxy: 'back-golang',
    listener: /^virtualInbound$/,
    chain: /^(0\.0\.0\.0_8442|virtualInbound-catchall-http)$/,
  },
  gateway: { proxy: 'ingressgateway', listener: /^0\.0\.0\.0_8080$/, chain: /.*/ },
  'gateway-api': { proxy: 'gateway-api', listener: /^0\.0\.0\.0_80$/, chain: /.*/ },
  // The waypoint's chain for back-golang's Service only (not direct-http, not other services).
  waypoint: {
    proxy: 'waypoint',
    listener: /^main_internal$/,
    chain: /^inbound-vip\|8442\|http\|back-golang\.jump-app-dev\.svc\.cluster\.local$/,
  },
};

/** The filter configuration the render carries (WasmPlugin pluginConfig, or the Wasm configuration string). */
function renderedConfig(manifest: string): unknown {
  for (const doc of parseAllDocuments(manifest)) {
    const o = doc.toJS() as { kind: string; spec: Record<string, unknown> };
    if (o.kind === 'WasmPlugin') return o.spec.pluginConfig;
    const found = JSON.stringify(o.spec).match(
      /"configuration":\{"@type":"[^"]+","value":("(?:[^"\\]|\\.)*")/,
    );
    if (found) return JSON.parse(JSON.parse(found[1]) as string);
  }
  return undefined;
}

/** The cluster a `--url` render fetches the module through (code.remote.http_uri.cluster). */
function moduleHostCluster(manifest: string): string {
  const found = /cluster: (\S+-module)$/m.exec(manifest);
  if (!found) throw new Error('the --url render names no module-host cluster');
  return found[1];
}

function summary(list: Placement[]): string {
  return [...new Set(list.map((p) => `${p.listener}${p.chain ? `/${p.chain}` : ''}`))].join(', ') || '-';
}

const rows: string[] = [];

for (const istio of ISTIO_VERSIONS) {
  t.test(`Istio ${istio.label}`, async (t) => {
    const dir = requireComponent(t, 'istio-xds');
    if (!dir) return;
    const binary = join(dir, istio.binary);
    for (const { target, shape, source, args } of renderCases(istio)) {
      await t.test(`${target} ${shape} ${source}`, async (t) => {
        const render = await runCommand('render', args);
        t.equal(render.code, 0, render.stderr);
        const proxies = runXds(binary, istio, render.stdout);
        const want = EXPECTED[shape];
        const config = renderedConfig(render.stdout) as { cluster: string };
        const landed = placements(proxies[want.proxy]);
        const elsewhere = Object.keys(proxies).filter(
          (name) => name !== want.proxy && placements(proxies[name]).length > 0,
        );
        const calloutCluster = clusterNames(proxies[want.proxy]).includes(config.cluster);
        rows.push(
          `| ${istio.label} | ${target} | ${shape} | ${source} | ${want.proxy}: ${summary(landed)} | ${elsewhere.join(', ') || '-'} | ${calloutCluster ? 'yes' : 'NO'} |`,
        );

        t.not(landed.length, 0, `the filter lands on ${want.proxy}`);
        for (const p of landed) {
          t.match(p.listener, want.listener, `${p.filter} on ${want.proxy}'s listener ${p.listener}`);
          t.match(p.chain, want.chain, `${p.filter} on the right chain (${p.chain})`);
          t.ok(p.beforeRouter, `${p.filter} runs before the router`);
          t.equal(p.via, target === 'ossm' || source === 'oci' ? 'ecds' : 'inline', 'delivered as rendered');
          t.same(filterConfiguration(p), config, 'with the configuration meshwasm rendered');
        }
        t.same(elsewhere, [], 'and on no other proxy (back-python, front-javascript, other gateways)');
        t.ok(calloutCluster, `callout cluster ${config.cluster} exists on ${want.proxy}`);
        if (target === 'envoyfilter' && source === 'url') {
          const moduleHost = cluster(proxies[want.proxy], moduleHostCluster(render.stdout));
          t.ok(moduleHost, 'the module-host cluster exists for code.remote');
          t.match(
            JSON.stringify(moduleHost?.transportSocket ?? {}),
            /validationContext.*trustedCa/,
            'and validates the module host certificate',
          );
        }
      });
    }
  });
}

t.teardown(() => {
  if (rows.length === 0 || !componentPath('istio-xds')) return;
  console.error(
    [
      '| Istio | target | shape | module | where the filter landed | also on | callout cluster |',
      '|---|---|---|---|---|---|---|',
      ...rows,
    ].join('\n'),
  );
});
