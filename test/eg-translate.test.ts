// Envoy Gateway's own translation of every envoy-gateway golden, with the objects around it
// (helpers/eg-fixtures.ts): `egctl x translate --from gateway-api --to xds` (Envoy Gateway v1.9.0's
// translator, run offline), then `envoy --mode validate` on the xDS it produced. What it shows:
// - the callout cluster the filter names exists in the xDS: the EnvoyPatchPolicy's cluster, or the
//   route/Service-backend cluster Envoy Gateway generates (which is how render knows the name for
//   --eg-merge backends, and what --callout-cluster httproute/<ns>/<route>/rule/<n> refers to);
// - routes the EnvoyExtensionPolicy covers carry no Wasm. egctl's translator has no Wasm cache (the
//   controller downloads modules into one and serves them to Envoy), so every Wasm policy fails to
//   build there with "wasm cache is not initialized", and Envoy Gateway replaces the routes the
//   policy covers with a direct 500. Even for failOpen: buildWasms returns that error before it has
//   read any failOpen (internal/gatewayapi/envoyextensionpolicy.go), so the failure counts as fail
//   closed. That is egctl's missing cache, not a bug in the render; the real module runs under the
//   standalone server (eg-standalone.test.ts).
import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { parseAllDocuments } from 'yaml';

import { requireComponent } from './helpers/components.js';
import { APP_NAMESPACE, egFixtureObjects, toYamlStream } from './helpers/eg-fixtures.js';
import { GOLDEN_CASES } from './helpers/render-cases.js';
import { ROOT } from './helpers/render-run.js';
import { resourcesOf, staticBootstrap, type TranslatedXds } from './helpers/xds-bootstrap.js';

type Obj = Record<string, unknown>;

const egctl = requireComponent(t, 'egctl');
const envoy = requireComponent(t, 'envoy');
const work = mkdtempSync(join(tmpdir(), 'meshwasm-egctl-'));
t.teardown(() => rmSync(work, { recursive: true, force: true }));

function run(cmd: string, args: string[]) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** Translates `objects` and returns each Gateway's (IR key's) xDS. */
function translate(name: string, objects: Obj[]): Map<string, TranslatedXds> {
  const file = join(work, `${name.replaceAll('/', '_')}.yaml`);
  writeFileSync(file, toYamlStream(objects));
  const r = run(egctl!, ['x', 'translate', '--from', 'gateway-api', '--to', 'xds', '-o', 'json', '-f', file]);
  if (r.code !== 0) throw new Error(`egctl x translate ${file}: ${r.stderr}`);
  const out = JSON.parse(r.stdout) as { xds: Record<string, Obj> };
  return new Map(Object.entries(out.xds).map(([key, dump]) => [key, resourcesOf(dump)]));
}

function validate(name: string, xds: TranslatedXds) {
  const file = join(work, `${name.replaceAll('/', '_')}-bootstrap.json`);
  writeFileSync(file, JSON.stringify(staticBootstrap(xds)));
  // Envoy Gateway's access logs open /dev/stdout, which a socket (Node's pipes) cannot be: a file.
  const out = openSync(`${file}.stdout`, 'w');
  try {
    const r = spawnSync(envoy!, ['--mode', 'validate', '-c', file, '-l', 'error'], {
      encoding: 'utf8',
      stdio: ['ignore', out, 'pipe'],
    });
    return { code: r.status ?? -1, stderr: r.stderr };
  } finally {
    closeSync(out);
  }
}

interface Route {
  name: string;
  route?: { cluster?: string };
  direct_response?: { status: number };
  typed_per_filter_config?: Obj;
}

function routesOf(xds: TranslatedXds): Route[] {
  return xds.routes.flatMap((rc) =>
    ((rc.virtual_hosts ?? []) as Obj[]).flatMap((vh) => (vh.routes ?? []) as Route[]),
  );
}

const argValue = (args: string[], flag: string) => {
  const i = args.indexOf(flag);
  return i >= 0 ? args[i + 1] : undefined;
};

for (const c of GOLDEN_CASES.filter((g) => g.name.startsWith('envoy-gateway/'))) {
  t.test(c.name, { skip: !egctl || !envoy }, async (t) => {
    const golden = parseAllDocuments(
      readFileSync(join(ROOT, 'test', 'golden', `${c.name}.yaml`), 'utf8'),
    ).map((d) => d.toJSON() as Obj);
    const extension = golden.find((o) => o.kind === 'EnvoyExtensionPolicy')!;
    const patch = golden.find((o) => o.kind === 'EnvoyPatchPolicy');
    const meta = (o: Obj) => o.metadata as { name: string; namespace: string };
    const wasm = ((extension.spec as Obj).wasm as Obj[])[0];
    const calloutCluster = (JSON.parse(JSON.stringify(wasm.config)) as { cluster: string }).cluster;
    const targets = (extension.spec as { targetRefs: { kind: string; name: string }[] }).targetRefs;
    const merge = argValue(c.args, '--eg-merge') as 'gateways' | 'backends' | undefined;
    if (merge === 'gateways') {
      // egctl's translator never turns mergeGateways on (only the controller's runner reads it from
      // the EnvoyProxy), so a patch policy aimed at the GatewayClass cannot be translated here.
      t.equal(
        (patch?.spec as { targetRef: { kind: string } }).targetRef.kind,
        'GatewayClass',
        'mergeGateways: the EnvoyPatchPolicy targets the GatewayClass',
      );
      return;
    }
    const gatewayNamespace = patch
      ? meta(patch).namespace
      : targets[0].kind === 'Gateway'
        ? meta(extension).namespace
        : APP_NAMESPACE;
    const fixtures = egFixtureObjects({
      gatewayNamespace,
      listenerPort: 8080,
      backGolang: { address: '10.0.0.10', port: 8080 },
      backPython: { port: Number(argValue(c.args, '--callout-port') ?? 8444) },
      merge,
    });
    const all = translate(c.name, [...fixtures, ...golden]);
    const key = `${gatewayNamespace}/eg`;
    const xds = all.get(key);
    t.ok(xds, `xDS for Gateway ${key} (got ${[...all.keys()].join(', ')})`);
    if (!xds) return;

    const clusterNames = xds.clusters.map((cl) => cl.name as string);
    t.ok(
      clusterNames.includes(calloutCluster),
      `the filter's cluster ${calloutCluster} is in the xDS (${clusterNames.join(', ')})`,
    );
    if (patch) {
      const added = xds.clusters.find((cl) => cl.name === calloutCluster)!;
      const value = (((patch.spec as Obj).jsonPatches as Obj[])[0].operation as Obj).value as Obj;
      t.match(
        added,
        { type: value.type, load_assignment: value.load_assignment },
        'as the EnvoyPatchPolicy wrote it',
      );
    }

    const routes = routesOf(xds);
    const covered = (r: Route) =>
      targets.some((ref) =>
        ref.kind === 'Gateway'
          ? true
          : r.name.startsWith(`httproute/${meta(extension).namespace}/${ref.name}/`),
      );
    const wasmRoutes = routes.filter(covered);
    t.ok(wasmRoutes.length > 0, 'some routes are covered by the EnvoyExtensionPolicy');
    for (const r of wasmRoutes) {
      t.notOk(
        JSON.stringify(r.typed_per_filter_config ?? {}).includes('wasm'),
        `${r.name}: no Wasm filter (egctl has no Wasm cache)`,
      );
      t.same(
        r.direct_response,
        { status: 500 },
        `${r.name}: replaced by a direct 500 (failOpen ${String(wasm.failOpen)})`,
      );
      t.notOk(r.route, `${r.name}: and does not forward`);
    }
    for (const r of routes.filter((x) => !covered(x)))
      t.ok(
        r.route?.cluster && !r.direct_response,
        `${r.name}: not covered, still forwards to ${r.route?.cluster}`,
      );

    const v = validate(c.name, xds);
    t.equal(v.code, 0, `envoy --mode validate accepts the translated xDS\n${v.stderr}`);
  });
}

t.test('route and Service-backend cluster names Envoy Gateway generates', { skip: !egctl }, async (t) => {
  const base = {
    gatewayNamespace: APP_NAMESPACE,
    listenerPort: 8080,
    backGolang: { address: '10.0.0.10', port: 8080 },
    backPython: { port: 8444 },
  };
  const names = (merge?: 'backends') =>
    translate(`names-${merge ?? 'default'}`, egFixtureObjects({ ...base, merge }))
      .get(`${APP_NAMESPACE}/eg`)!
      .clusters.map((cl) => cl.name as string);
  const plain = names();
  t.ok(plain.includes('httproute/jump-app-dev/back-python/rule/0'), 'per route rule by default');
  t.ok(plain.includes('httproute/jump-app-dev/back-golang/rule/0'), 'a Backend too');
  const merged = names('backends');
  t.ok(
    merged.includes('service/jump-app-dev/back-python/8444/http'),
    `mergeBackends: kind/namespace/name/port/protocol (${merged.join(', ')})`,
  );
  t.notOk(merged.includes('httproute/jump-app-dev/back-python/rule/0'), 'and no route cluster for it');
});
