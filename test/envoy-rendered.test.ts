// What `render` prints, in real Envoy 1.40: the EnvoyFilter's HTTP filter (code.local with --file,
// code.remote with --url/--sha256 plus the CLUSTER patch for the module host) and Envoy Gateway's
// EnvoyPatchPolicy cluster, put into a bootstrap, pass `envoy --mode validate`; the --url form is
// fetched by Envoy from a loopback HTTPS server, checked against its sha256 and serves traffic; with
// a wrong sha256 Envoy refuses the module (README.md says what that looks like).
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { startEnvoy, validateBootstrap, writeBootstrap } from '../envoy/index.js';
import { clientGet, startBackPython, startUpstream } from './helpers/back-python.js';
import { requireComponent } from './helpers/components.js';
import { CLUSTER, PLUGIN, PLUGIN_PATH } from './helpers/filter-host.js';
import { runCommand } from './helpers/render-run.js';

type Test = Parameters<Parameters<typeof t.test>[1]>[0];

/** `meshwasm render ARGS -o json`, in-process, parsed. */
async function renderJson(args: string[]): Promise<unknown> {
  const result = await runCommand('render', [...args, '-o', 'json']);
  if (result.code !== 0) throw new Error(`render ${args.join(' ')} failed: ${result.stderr}`);
  return JSON.parse(result.stdout);
}

interface Patch {
  applyTo: string;
  patch: { value: Record<string, unknown> };
}

async function envoyfilterPatches(args: string[]): Promise<Patch[]> {
  const list = (await renderJson(['--target', 'envoyfilter', ...args])) as {
    items: Array<{ spec: { configPatches: Patch[] } }>;
  };
  return list.items.flatMap((item) => item.spec.configPatches);
}

/** A loopback HTTPS server serving plugin.wasm with a throwaway self-signed certificate. */
async function moduleServer(t: Test) {
  const dir = mkdtempSync(join(tmpdir(), 'meshwasm-tls-'));
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      join(dir, 'key.pem'),
      '-out',
      join(dir, 'cert.pem'),
    ].concat(['-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1']),
    { stdio: 'ignore' },
  );
  const fetched: string[] = [];
  const server = https.createServer(
    { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) },
    (req, res) => {
      fetched.push(req.url ?? '');
      res.end(PLUGIN);
    },
  );
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  // The self-signed certificate is its own CA: render gets it as --module-ca.
  return {
    url: `https://127.0.0.1:${(server.address() as AddressInfo).port}/plugin.wasm`,
    ca: join(dir, 'cert.pem'),
    fetched,
  };
}

const SHA256 = createHash('sha256').update(PLUGIN).digest('hex');

t.test('envoyfilter --file: the rendered HTTP filter validates and runs in Envoy', async (t) => {
  const envoy = requireComponent(t, 'envoy');
  if (!envoy) return;
  const patches = await envoyfilterPatches(['--file', PLUGIN_PATH]);
  t.same(
    patches.map((p) => p.applyTo),
    ['HTTP_FILTER'],
  );
  const upstream = await startUpstream(t);
  const back = await startBackPython(t);
  const bootstrap = writeBootstrap({
    upstream: upstream.url,
    clusters: { [CLUSTER]: back.url },
    httpFilters: [patches[0]!.patch.value],
  });
  const verdict = await validateBootstrap(bootstrap, envoy);
  t.ok(verdict.ok, verdict.output);
  const running = await startEnvoy({ bootstrap, envoyPath: envoy });
  t.teardown(running.stop);
  t.equal((await clientGet(running.url)).status, 200);
  await back.arrived(1);
  t.equal(back.seen[0]!.url, '/jump', 'the rendered filter made its callout');
});

t.test(
  'envoyfilter --url --sha256: Envoy fetches over HTTPS, checks the digest, serves traffic',
  async (t) => {
    const envoy = requireComponent(t, 'envoy');
    if (!envoy) return;
    const server = await moduleServer(t);
    const patches = await envoyfilterPatches([
      '--url',
      server.url,
      '--sha256',
      SHA256,
      '--module-ca',
      server.ca,
    ]);
    t.same(patches.map((p) => p.applyTo).sort(), ['CLUSTER', 'HTTP_FILTER']);
    const { back, bootstrap } = await remoteModuleBootstrap(t, patches);
    const verdict = await validateBootstrap(bootstrap, envoy);
    t.ok(verdict.ok, `envoy --mode validate: ${verdict.output}`);
    const running = await startEnvoy({ bootstrap, envoyPath: envoy });
    t.teardown(running.stop);
    t.same(server.fetched, ['/plugin.wasm'], 'fetched once, from the module host cluster');
    t.equal((await clientGet(running.url)).status, 200);
    await back.arrived(1);
    t.equal(back.seen[0]!.url, '/jump');
  },
);

type Patches = Awaited<ReturnType<typeof envoyfilterPatches>>;

/** A bootstrap with the rendered HTTP filter and module-host CLUSTER patch of a --url render, and its servers. */
async function remoteModuleBootstrap(t: Test, patches: Patches) {
  const upstream = await startUpstream(t);
  const back = await startBackPython(t);
  const bootstrap = writeBootstrap({
    upstream: upstream.url,
    clusters: { [CLUSTER]: back.url },
    httpFilters: [patches.find((p) => p.applyTo === 'HTTP_FILTER')!.patch.value],
    extraClusters: [patches.find((p) => p.applyTo === 'CLUSTER')!.patch.value],
  });
  return { upstream, back, bootstrap };
}

/** Envoy running remoteModuleBootstrap's bootstrap, wasm logs on. */
async function runRemoteModule(t: Test, envoy: string, patches: Patches) {
  const { upstream, back, bootstrap } = await remoteModuleBootstrap(t, patches);
  const running = await startEnvoy({ bootstrap, envoyPath: envoy, componentLogLevel: 'wasm:info' });
  t.teardown(running.stop);
  return { upstream, back, running };
}

t.test('envoyfilter --url with a wrong --sha256: Envoy retries, gives up, and fails closed', async (t) => {
  const envoy = requireComponent(t, 'envoy');
  if (!envoy) return;
  const server = await moduleServer(t);
  const patches = await envoyfilterPatches([
    '--url',
    server.url,
    '--sha256',
    'b'.repeat(64),
    '--module-ca',
    server.ca,
  ]);
  const { upstream, back, running } = await runRemoteModule(t, envoy, patches);
  t.equal(server.fetched.length, 4, 'the first fetch and the 3 retries of retry_policy');
  await running.waitForLog(/Retry limit exceeded for fetching data from remote data source/);
  await running.waitForLog(/\[critical\]\[wasm\] Plugin jump-app-dev\.meshwasm-back-golang failed to load/);
  const res = await clientGet(running.url);
  t.equal(res.status, 503, 'every request fails closed');
  t.equal(upstream.seen.length, 0);
  t.equal(back.seen.length, 0);
});

t.test('envoyfilter --url whose host the CA bundle does not vouch for: no fetch, fails closed', async (t) => {
  const envoy = requireComponent(t, 'envoy');
  if (!envoy) return;
  const server = await moduleServer(t);
  // No --module-ca: the system bundle, which does not know the self-signed module host.
  const patches = await envoyfilterPatches(['--url', server.url, '--sha256', SHA256]);
  const { upstream, running } = await runRemoteModule(t, envoy, patches);
  await running.waitForLog(/Retry limit exceeded for fetching data from remote data source/);
  t.same(server.fetched, [], 'the TLS check stopped every fetch before a request was sent');
  t.equal((await clientGet(running.url)).status, 503, 'every request fails closed');
  t.equal(upstream.seen.length, 0);
});

t.test('envoy-gateway: the EnvoyPatchPolicy cluster passes envoy --mode validate as a cluster', async (t) => {
  const envoy = requireComponent(t, 'envoy');
  if (!envoy) return;
  const list = (await renderJson(['--target', 'envoy-gateway', '--gateway', 'eg', '--shape', 'route'])) as {
    items: Array<{
      kind: string;
      spec: { jsonPatches?: Array<{ type: string; operation: { value: Record<string, unknown> } }> };
    }>;
  };
  const policy = list.items.find((item) => item.kind === 'EnvoyPatchPolicy')!;
  const patch = policy.spec.jsonPatches![0]!;
  t.equal(patch.type, 'type.googleapis.com/envoy.config.cluster.v3.Cluster');
  const bootstrap = writeBootstrap({
    upstream: 'http://127.0.0.1:1',
    extraClusters: [patch.operation.value],
  });
  const verdict = await validateBootstrap(bootstrap, envoy);
  t.ok(verdict.ok, verdict.output);
  const broken = writeBootstrap({
    upstream: 'http://127.0.0.1:1',
    extraClusters: [{ ...patch.operation.value, type: 'NOT_A_TYPE' }],
  });
  t.notOk((await validateBootstrap(broken, envoy)).ok, 'validate does reject a broken cluster');
});
