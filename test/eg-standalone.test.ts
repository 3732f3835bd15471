// meshwasm's envoy-gateway render served by a real Envoy Gateway (v1.9.0, standalone: file provider,
// host infrastructure; helpers/envoy-gateway.ts) and its own Envoy (the PyPI 1.40.0 build, which the
// harness puts in func-e's cache). Into the watched folder go the fixtures (helpers/eg-fixtures.ts)
// and `meshwasm render --target envoy-gateway` output, unmodified, for the module given as --url (a
// loopback server with --sha256) and as --image (pushed with `meshwasm push` to a local registry).
// Then real traffic through the Gateway's listener: back-golang answers, back-python gets the
// callout, and the statuses Envoy Gateway writes say Accepted (and Programmed for the patch policy).
//
// The callout Service is addressed as back-python.jump-app-dev.svc.localhost (--cluster-domain
// localhost): Envoy's resolver answers *.localhost with ::1, where the back-python stand-in listens,
// so the EnvoyPatchPolicy's STRICT_DNS cluster is used exactly as rendered.
import { createHash } from 'node:crypto';
import http from 'node:http';
import t from 'tap';
import { stringify } from 'yaml';

import { PLUGIN, PLUGIN_PATH } from './helpers/filter-host.js';
import { requireComponent } from './helpers/components.js';
import { APP_NAMESPACE, egFixtureObjects, EG_NAMESPACE, toYamlStream } from './helpers/eg-fixtures.js';
import { ENVOY_VERSION, policyConditions, startStandaloneEg } from './helpers/envoy-gateway.js';
import { listenLoopback } from './helpers/loopback.js';
import { startBackPython, type BackPython } from './helpers/back-python.js';
import { freePort, haveTools, startRegistry } from './helpers/registry.js';
import { runCli } from './helpers/render-run.js';

// Starting Envoy Gateway, fetching the module twice and reconfiguring Envoy takes minutes on a
// loaded 2-core machine, past tap's default per-file timeout.
t.setTimeout(600_000);
const egPath = requireComponent(t, 'envoy-gateway');
const envoyPath = requireComponent(t, 'envoy');

interface Reply {
  status: number;
  body: string;
  headers: http.IncomingHttpHeaders;
}

function get(port: number, headers: Record<string, string> = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/hello', headers, agent: false }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    });
    req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

/** Until `ok` holds for a reply (the listener and the module take a while to arrive). */
async function until(
  port: number,
  ok: (r: Reply) => boolean,
  what: string,
  timeoutMs = 90_000,
): Promise<Reply> {
  const deadline = Date.now() + timeoutMs;
  let last: Reply | Error | undefined;
  for (;;) {
    try {
      last = await get(port);
      if (ok(last)) return last;
    } catch (e) {
      last = e as Error;
    }
    if (Date.now() > deadline) throw new Error(`${what}: last reply ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

function render(args: string[]): string {
  const r = runCli(['render', '--target', 'envoy-gateway', ...args]);
  if (r.code !== 0) throw new Error(`meshwasm render ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

const isTrue = (type: string) => (s: Record<string, unknown>) =>
  policyConditions(s).some((c) => c.type === type && c.status === 'True');

/**
 * Envoy Gateway v1.9.0's wasm_cluster (how Envoy fetches modules from the controller) is built for
 * Kubernetes: it dials envoy-gateway.<namespace>.svc.cluster.local:18002 and trusts /certs/ca.crt,
 * the controller pod's mount (internal/xds/translator/globalresources.go). On a host neither
 * exists, so the harness patches that one cluster with an EnvoyPatchPolicy of its own: the
 * controller's loopback address and the CA certgen wrote. Nothing meshwasm renders is touched.
 */
function wasmClusterPatch(root: string, gatewayNamespace: string): string {
  return stringify({
    apiVersion: 'gateway.envoyproxy.io/v1alpha1',
    kind: 'EnvoyPatchPolicy',
    metadata: { name: 'harness-wasm-cluster', namespace: gatewayNamespace },
    spec: {
      type: 'JSONPatch',
      targetRef: { group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'eg' },
      jsonPatches: [
        {
          type: 'type.googleapis.com/envoy.config.cluster.v3.Cluster',
          name: 'wasm_cluster',
          operation: {
            op: 'replace',
            path: '/load_assignment/endpoints/0/lb_endpoints/0/endpoint/address/socket_address/address',
            value: '127.0.0.1',
          },
        },
        {
          type: 'type.googleapis.com/envoy.config.cluster.v3.Cluster',
          name: 'wasm_cluster',
          operation: {
            op: 'replace',
            path: '/transport_socket/typed_config/common_tls_context/validation_context/trusted_ca/filename',
            value: `${root}/config/certs/envoy/ca.crt`,
          },
        },
      ],
    },
  });
}

t.test('standalone Envoy Gateway serves the render', { skip: !egPath || !envoyPath }, async (t) => {
  // back-golang: the route's Backend (a static endpoint on loopback).
  let golangHits = 0;
  const golangRequestIds: string[] = [];
  const golang = await listenLoopback(t, (rq, rs) => {
    golangHits++;
    golangRequestIds.push(String(rq.headers['x-request-id']));
    rs.writeHead(200, { 'content-type': 'text/plain' });
    rs.end('back-golang');
  });
  const golangPort = Number(new URL(golang.url).port);
  let python: BackPython = await startBackPython(t, () => ({}), '::1');
  const pythonPort = Number(new URL(python.url).port);
  // The module over HTTP, as --url with --sha256.
  const wasmServer = await listenLoopback(t, (_rq, rs) => {
    rs.writeHead(200, { 'content-type': 'application/wasm' });
    rs.end(PLUGIN);
  });
  const wasmSha = createHash('sha256').update(PLUGIN).digest('hex');

  const listenerPort = await freePort();
  const callout = ['--cluster-domain', 'localhost', '--callout-port', String(pythonPort)];
  const eg = await startStandaloneEg(t, {
    envoyGateway: egPath!,
    envoy: envoyPath!,
    config: {
      extensionApis: { enableBackend: true, enableEnvoyPatchPolicy: true },
      admin: { address: { host: '127.0.0.1', port: await freePort() } },
    },
    files: (root) => ({
      '10-fixtures.yaml': toYamlStream(
        egFixtureObjects({
          gatewayNamespace: APP_NAMESPACE,
          listenerPort,
          backGolang: { address: '127.0.0.1', port: golangPort },
          backPython: { port: pythonPort },
          provider: { type: 'Host', host: { envoyVersion: ENVOY_VERSION } },
        }),
      ),
      '20-harness-wasm-cluster.yaml': wasmClusterPatch(root, APP_NAMESPACE),
      '30-meshwasm.yaml': render(['--url', `${wasmServer.url}/plugin.wasm`, '--sha256', wasmSha, ...callout]),
    }),
  });

  await t.test('statuses Envoy Gateway writes', async (t) => {
    const extension = await eg.waitForStatus(
      'EnvoyExtensionPolicy',
      APP_NAMESPACE,
      'meshwasm-back-golang',
      isTrue('Accepted'),
    );
    t.ok(isTrue('Accepted')(extension), 'EnvoyExtensionPolicy Accepted');
    const patch = await eg.waitForStatus(
      'EnvoyPatchPolicy',
      APP_NAMESPACE,
      'meshwasm-back-python',
      isTrue('Programmed'),
    );
    t.ok(isTrue('Accepted')(patch), 'EnvoyPatchPolicy Accepted');
    t.ok(isTrue('Programmed')(patch), 'EnvoyPatchPolicy Programmed');
  });

  await t.test('--url: async callout per request', async (t) => {
    await until(listenerPort, (r) => r.status === 200 && python.seen.length > 0, 'first callout');
    const before = python.seen.length;
    const idsBefore = golangRequestIds.length;
    const n = 5;
    for (let i = 0; i < n; i++) {
      const r = await get(listenerPort, { authorization: 'Bearer secret', 'x-request-id': `req-${i}` });
      t.equal(r.status, 200, 'back-golang answers');
      t.equal(r.body, 'back-golang');
    }
    await python.arrived(before + n);
    const mine = python.seen.slice(before);
    t.equal(mine.length, n, 'one callout per request');
    // The Gateway's Envoy is an edge proxy: it replaces a client's x-request-id with its own, so
    // the callout must carry the id the request itself went upstream with.
    const upstreamIds = golangRequestIds.slice(idsBefore);
    t.equal(upstreamIds.length, n);
    for (const seen of mine) {
      t.equal(seen.method, 'GET');
      t.equal(seen.url, '/jump');
      t.equal(seen.headers.host, `back-python.${APP_NAMESPACE}.svc.localhost`, 'authority of the Service');
      t.ok(upstreamIds.includes(String(seen.headers['x-request-id'])), 'x-request-id of its request');
      t.notOk(seen.headers.authorization, 'authorization is not copied');
    }
    t.equal(new Set(mine.map((s) => s.headers['x-request-id'])).size, n, 'one callout for each request');
  });

  await t.test('async: back-python down, the request still gets 200', async (t) => {
    await python.close();
    const r = await get(listenerPort);
    t.equal(r.status, 200);
    t.equal(r.body, 'back-golang');
  });

  await t.test('blocking with failureStatus', async (t) => {
    eg.apply(
      '30-meshwasm.yaml',
      render([
        '--url',
        `${wasmServer.url}/plugin.wasm`,
        '--sha256',
        wasmSha,
        ...callout,
        '--mode',
        'blocking',
        '--failure-status',
        '418',
      ]),
    );
    // back-python is still down: the new configuration shows as the failureStatus, a status
    // neither back-golang nor Envoy would answer with by itself.
    const failed = await until(listenerPort, (r) => r.status === 418, 'blocking failureStatus 418');
    t.equal(failed.status, 418, 'failureStatus when the callout fails');
    python = await startBackPython(t, () => ({}), '::1');
    t.not(Number(new URL(python.url).port), 0);
  });

  await t.test('--image: pushed to a local registry', async (t) => {
    if (!haveTools(t, 'docker-registry')) return;
    const registry = await startRegistry(t);
    const ref = `${registry.host}/meshwasm/callout-filter:eg`;
    const push = runCli(['push', ref, '--insecure', '--wasm', PLUGIN_PATH]);
    t.equal(push.code, 0, push.stderr);
    const digest = push.stdout.trim();
    const bp = await startBackPython(t, () => ({}), '::1');
    eg.apply(
      '30-meshwasm.yaml',
      render([
        '--image',
        `oci://${ref}`,
        '--sha256',
        digest,
        '--cluster-domain',
        'localhost',
        '--callout-port',
        String(Number(new URL(bp.url).port)),
      ]),
    );
    await until(listenerPort, (r) => r.status === 200 && bp.seen.length > 0, 'callout with the image');
    t.equal(bp.seen[0].url, '/jump', 'back-python got the callout from the image module');
    const extension = await eg.waitForStatus(
      'EnvoyExtensionPolicy',
      APP_NAMESPACE,
      'meshwasm-back-golang',
      isTrue('Accepted'),
    );
    t.ok(isTrue('Accepted')(extension), 'EnvoyExtensionPolicy with the image Accepted');
  });

  t.ok(golangHits > 0, 'back-golang was reached through the Gateway');
  t.comment(`Envoy Gateway namespace ${EG_NAMESPACE}, Envoy ${ENVOY_VERSION}`);
});
