// The real-Envoy harness (envoy/): step 0 of issue 7 first — this Envoy build is 1.40 and loads a
// bootstrap with envoy.filters.http.wasm on envoy.wasm.runtime.v8 — then the harness's promises:
// free ports read back from the admin API, /ready before use, /stats readable, stop leaves no
// process, and a bootstrap Envoy rejects is reported with Envoy's own words.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import {
  EnvoyStartError,
  bootstrapOptionsFromModel,
  clusterFor,
  findEnvoy,
  startEnvoy,
  validateBootstrap,
  wasmMetrics,
  writeBootstrap,
} from '../envoy/index.js';
import { buildModel } from '../renderers/model.js';
import { resolveValues } from '../renderers/values.js';
import { clientGet, startBackPython, startUpstream } from './helpers/back-python.js';
import { requireComponent } from './helpers/components.js';
import { CLUSTER, CLUSTER_HOST, PLUGIN_PATH } from './helpers/filter-host.js';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

t.test('step 0: Envoy 1.40 with the V8 runtime and the Wasm HTTP filter', async (t) => {
  const envoy = requireComponent(t, 'envoy');
  if (!envoy) return;
  const version = execFileSync(envoy, ['--version'], { encoding: 'utf8' });
  t.match(version, /\/1\.40\.\d+\/Clean\/RELEASE\//, `envoy --version: ${version.trim()}`);

  const upstream = await startUpstream(t);
  const back = await startBackPython(t);
  const bootstrap = writeBootstrap({
    upstream: upstream.url,
    clusters: { [CLUSTER]: back.url },
    wasm: { wasmPath: PLUGIN_PATH, pluginConfig: JSON.stringify({ cluster: CLUSTER }) },
  });
  const validated = await validateBootstrap(bootstrap, envoy);
  t.ok(validated.ok, `envoy --mode validate accepts the Wasm filter on V8: ${validated.output}`);

  const started = await startEnvoy({ bootstrap, envoyPath: envoy });
  t.teardown(started.stop);
  t.not(started.port, 0, 'the listener got a free port, read back from the admin API');
  const res = await clientGet(`${started.url}/api`, { 'x-request-id': 'rid-step0' });
  t.equal(res.status, 200);
  t.equal(res.body, 'ok');
  await back.arrived(1);
  t.equal(back.seen[0]!.url, '/jump', 'the filter made its callout from inside Envoy');
  t.equal(back.seen[0]!.headers.host, CLUSTER_HOST);
  // The filter publishes its metrics on a 100 ms tick.
  await new Promise((r) => setTimeout(r, 250));
  const metrics = wasmMetrics(await started.stats());
  t.equal(metrics.get('meshwasm.callouts.started'), 1, 'the filter metric is in admin /stats');

  await started.stop();
  t.notOk(alive(started.pid), 'no Envoy process is left after stop()');
  await started.stop();
  t.pass('stop() twice is harmless');
});

t.test('a bootstrap Envoy rejects: EnvoyStartError with Envoy log, and no process left', async (t) => {
  const envoy = requireComponent(t, 'envoy');
  if (!envoy) return;
  const upstream = await startUpstream(t);
  const bootstrap = writeBootstrap({
    upstream: upstream.url,
    wasm: { wasmPath: '/nonexistent/plugin.wasm', pluginConfig: '{}' },
  });
  const error = await startEnvoy({ bootstrap, envoyPath: envoy }).catch((e: unknown) => e);
  t.type(error, EnvoyStartError);
  t.match((error as EnvoyStartError).message, /exited before it was ready/);
  t.match((error as EnvoyStartError).log.join('\n'), /nonexistent\/plugin\.wasm/, 'Envoy names the file');
  const verdict = await validateBootstrap(bootstrap, envoy);
  t.notOk(verdict.ok);
  t.match(verdict.output, /nonexistent\/plugin\.wasm/);
});

t.test('waitForLog and a filter log line; a missing one times out', async (t) => {
  const envoy = requireComponent(t, 'envoy');
  if (!envoy) return;
  const upstream = await startUpstream(t);
  const lines: string[] = [];
  const started = await startEnvoy({
    bootstrap: {
      upstream: upstream.url,
      wasm: { wasmPath: PLUGIN_PATH, pluginConfig: '{}' },
      accessLog: {},
    },
    envoyPath: envoy,
    componentLogLevel: 'wasm:info',
    logFlushIntervalMs: 50,
    onLog: (line) => lines.push(line),
  });
  t.teardown(started.stop);
  // An empty configuration: the filter warns that there is no cluster (filter-config.test.ts).
  const warning = await started.waitForLog(/^\[warning\]\[wasm\].*cluster/);
  t.match(warning, /cluster/);
  t.same(await started.waitForLog(/cluster/), warning, 'a line already seen resolves at once');
  await clientGet(`${started.url}/x`);
  const access = await started.waitForLog(/^GET \/x 200 /);
  t.match(access, /id=[0-9a-f-]{36}/, 'the access log line carries the generated request id');
  t.ok(lines.includes(access), 'onLog saw every line');
  t.ok(started.logs().includes(access));
  await t.rejects(started.waitForLog(/never logged/, 50), /nothing matching/);
});

t.test('startEnvoy without an Envoy, or with one that cannot run', async (t) => {
  const saved = { ...process.env };
  t.teardown(() => {
    process.env = saved;
  });
  process.env.MESHWASM_ENVOY = '/nonexistent/envoy';
  await t.rejects(startEnvoy({ bootstrap: { upstream: 'http://127.0.0.1:1' } }), {
    message: /Envoy not found; install Envoy with/,
  });
  t.throws(() => validateBootstrap({}), /Envoy not found/);
  const dir = mkdtempSync(join(tmpdir(), 'meshwasm-fake-envoy-'));
  const notExecutable = join(dir, 'envoy');
  writeFileSync(notExecutable, 'not a program');
  await t.rejects(startEnvoy({ bootstrap: { upstream: 'http://127.0.0.1:1' }, envoyPath: notExecutable }), {
    message: /cannot run/,
  });
  const sleeper = join(dir, 'sleeper');
  writeFileSync(sleeper, '#!/bin/sh\nexec sleep 30\n');
  chmodSync(sleeper, 0o755);
  await t.rejects(
    startEnvoy({ bootstrap: { upstream: 'http://127.0.0.1:1' }, envoyPath: sleeper, readyTimeoutMs: 200 }),
    { message: /not ready within 200 ms/ },
  );
});

t.test('findEnvoy: MESHWASM_ENVOY, then the cache, then PATH', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'meshwasm-find-envoy-'));
  const onPath = join(dir, 'envoy');
  writeFileSync(onPath, '');
  t.equal(findEnvoy({ MESHWASM_ENVOY: onPath }), onPath);
  t.equal(findEnvoy({ MESHWASM_ENVOY: join(dir, 'missing') }), undefined, 'a wrong override is not ignored');
  t.equal(findEnvoy({ MESHWASM_CACHE: join(dir, 'no-cache'), PATH: `/nonexistent:${dir}` }), onPath);
  t.equal(findEnvoy({ MESHWASM_CACHE: join(dir, 'no-cache'), PATH: '' }), undefined);
  t.equal(findEnvoy({ XDG_CACHE_HOME: join(dir, 'xdg'), PATH: '' }), undefined);
});

t.test('bootstrap: clusters by URL kind, upstream checks, access log, route timeout', async (t) => {
  t.match(clusterFor('c', 'http://127.0.0.1:8444'), { type: 'STATIC' });
  t.match(clusterFor('c', 'http://[::1]:8444'), {
    load_assignment: {
      endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '::1' } } } }] }],
    },
  });
  const tls = clusterFor('c', 'https://localhost');
  t.match(tls, { type: 'STRICT_DNS', transport_socket: { typed_config: { sni: 'localhost' } } });
  t.match(tls, {
    load_assignment: {
      endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { port_value: 443 } } } }] }],
    },
  });
  t.match(clusterFor('c', 'http://localhost'), {
    load_assignment: {
      endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { port_value: 80 } } } }] }],
    },
  });
  t.throws(() => clusterFor('c', 'ftp://127.0.0.1'), /cluster c: only http/);
  t.throws(() => writeBootstrap({ upstream: 'https://127.0.0.1:1' }), /upstream: only http/);
  const b = writeBootstrap({
    upstream: 'http://127.0.0.1:1',
    routeTimeoutMs: 2500,
    accessLog: { path: '/tmp/x.log', format: 'X\n' },
    extraClusters: [{ name: 'extra' }],
    httpFilters: [{ name: 'mine' }],
  });
  t.match(JSON.stringify(b), /"timeout":"2.5s"/);
  t.match(JSON.stringify(b), /"inline_string":"X\\n"/);
  t.match(JSON.stringify(b), /\{"name":"mine"\},\{"name":"envoy.filters.http.router"/);
  t.match(JSON.stringify(b), /\{"name":"extra"\}/);
  t.match(JSON.stringify(b), /"path":"\/tmp\/x.log"/);
  t.notMatch(
    JSON.stringify(writeBootstrap({ upstream: 'http://127.0.0.1:1' })),
    /http\.wasm/,
    'no filter: a plain proxy',
  );
});

t.test('bootstrap from the values model: the configuration bytes and cluster render uses', async (t) => {
  const model = buildModel(resolveValues({ flags: { mode: 'blocking', failOpen: true } }));
  const options = bootstrapOptionsFromModel(model, {
    wasmPath: PLUGIN_PATH,
    upstream: 'http://127.0.0.1:8442',
    calloutUrl: 'http://127.0.0.1:8444',
    clusters: { other: 'http://127.0.0.1:9000' },
  });
  t.same(options.clusters, { [CLUSTER]: 'http://127.0.0.1:8444', other: 'http://127.0.0.1:9000' });
  t.equal(options.wasm!.pluginConfig, model.filterConfigJson);
  t.equal(options.wasm!.rootId, 'meshwasm');
  t.equal(options.wasm!.failOpen, true);
  t.same(bootstrapOptionsFromModel(model, { wasmPath: 'x', upstream: 'http://127.0.0.1:1' }).clusters, {});
});
