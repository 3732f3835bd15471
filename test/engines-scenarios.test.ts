// The filter's behavioural scenarios, written once and run on both engines: the Node host's gateway
// and real Envoy 1.40 (test/helpers/engines.ts). Each scenario asserts its expected outcome on each
// engine, and then that both engines observed exactly the same thing (what the client got, what
// back-python and the upstream got, the metrics by name and value, the filter's log lines). Envoy is
// the referee: where they differed, the host was fixed and the case stays here.
import http from 'node:http';
import t from 'tap';
import {
  type Answer,
  type BackPython,
  type SeenRequest,
  clientGet,
  refusingUrl,
  startBackPython,
} from './helpers/back-python.js';
import { requireComponent } from './helpers/components.js';
import { type Engine, ENGINES, type EngineName, startEngine } from './helpers/engines.js';
import { CLUSTER, CLUSTER_HOST, PLUGIN_PATH } from './helpers/filter-host.js';

type Test = Parameters<Parameters<typeof t.test>[1]>[0];

const CLIENT_HEADERS = {
  'x-request-id': 'rid-42',
  traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
  'x-b3-traceid': '4bf92f3577b34da6a3ce929d0e0e4736',
  'x-b3-sampled': '1',
  authorization: 'Bearer secret',
  cookie: 'session=1',
  'proxy-authorization': 'Basic eDp5',
  'x-other': 'not-listed',
};

const ZERO = {
  'meshwasm.callouts.started': 0,
  'meshwasm.callouts.succeeded': 0,
  'meshwasm.callouts.failed': 0,
  'meshwasm.callouts.skipped.in_flight': 0,
  'meshwasm.callouts.skipped.sampling': 0,
  'meshwasm.callouts.in_flight': 0,
};

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/** Headers Envoy (and the host, its copy) sets that differ run to run: compare their presence only. */
const VOLATILE = new Set(['date', 'x-envoy-upstream-service-time', 'x-request-id']);

/**
 * The one difference left on purpose: Node's HTTP client always writes a `connection` header
 * (keep-alive or close) on the requests the host sends (upstream and callouts), where Envoy's
 * HTTP/1 codec writes none. It is hop-by-hop (no proxy forwards it) and only Node's own HTTP/1
 * client could change it, so it is left out of the comparison.
 */
const NODE_CLIENT_ARTEFACT = 'connection';

function headerView(headers: http.IncomingHttpHeaders): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(headers).sort(([a], [b]) => (a < b ? -1 : 1))) {
    if (k === NODE_CLIENT_ARTEFACT) continue;
    out[k] = VOLATILE.has(k) && k !== 'x-request-id' ? '<set>' : v;
  }
  return out;
}

/** What a loopback server got; the engine's own listener address (its port differs) is named. */
function requestView(seen: SeenRequest, engine?: Engine) {
  const headers = headerView(seen.headers);
  if (engine && headers.host === new URL(engine.url).host) headers.host = '<the listener>';
  return { method: seen.method, url: seen.url, headers, body: seen.body };
}

/** A loopback back-golang stand-in that records what it got (and echoes nothing). */
async function upstream(t: Test) {
  return startBackPython(t, () => ({ status: 200, body: 'ok' }));
}

interface Context {
  engine: Engine;
  back: BackPython;
  up: BackPython;
}

interface Scenario {
  name: string;
  config: Record<string, unknown> | string;
  /** back-python's behaviour; `null` = the cluster is not defined at all. */
  back?: ((c: { release: Promise<void> }) => (req: SeenRequest, i: number) => Answer) | null;
  /** A URL where nothing listens, for the callout cluster. */
  refused?: boolean;
  /** Drives the engine; returns what it observed (compared across engines) and asserts the rest. */
  run(t: Test, c: Context & { releaseBack: () => void }): Promise<unknown>;
}

async function get(c: Context, path = '/api', headers: Record<string, string> = CLIENT_HEADERS) {
  const res = await clientGet(`${c.engine.url}${path}`, headers);
  return {
    status: res.status,
    headers: headerView(res.headers),
    body: res.body,
    completedAt: res.completedAt,
  };
}

function expectMetrics(t: Test, got: Record<string, number>, want: Partial<typeof ZERO>) {
  // The memory gauge is the VM's linear memory: whole 64 KiB pages, whatever the engine.
  const { 'meshwasm.vm.memory_bytes': memory, ...rest } = got;
  t.same(rest, { ...ZERO, ...want }, 'the callout metrics, by name and value');
  t.ok(memory !== undefined && memory > 0 && memory % 65536 === 0, `vm.memory_bytes ${memory}: whole pages`);
}

const FAULTS: Array<{ name: string; config?: Record<string, unknown>; scenario: Partial<Scenario> }> = [
  { name: 'connection refused', scenario: { refused: true } },
  { name: 'timeout', config: { timeoutMs: 100 }, scenario: { back: () => () => ({ delayMs: 1500 }) } },
  { name: '500', scenario: { back: () => () => ({ status: 500, body: 'boom' }) } },
  { name: 'reset mid-response', scenario: { back: () => () => ({ resetMidResponse: true }) } },
  { name: 'unknown cluster', scenario: { back: null } },
];

const SCENARIOS: Scenario[] = [
  {
    name: 'async: one callout with the propagated headers and no credentials; the client does not wait',
    config: { cluster: CLUSTER },
    back:
      ({ release }) =>
      () => ({ hold: Promise.race([release, new Promise((r) => setTimeout(r, 3000))]) }),
    async run(t, c) {
      const res = await get(c);
      c.releaseBack();
      t.equal(res.status, 200);
      t.equal(res.body, 'ok');
      await c.back.arrived(1);
      await c.engine.settle();
      const seen = c.back.seen[0]!;
      t.ok(seen.answeredAt! > res.completedAt, 'back-python answered after the client had its response');
      t.equal(seen.method, 'GET');
      t.equal(seen.url, '/jump');
      t.equal(seen.headers.host, CLUSTER_HOST);
      t.equal(seen.headers['x-request-id'], 'rid-42');
      t.equal(seen.headers.traceparent, CLIENT_HEADERS.traceparent);
      for (const secret of ['authorization', 'cookie', 'proxy-authorization', 'x-other'])
        t.equal(seen.headers[secret], undefined, `${secret} not forwarded`);
      t.equal(c.up.seen[0]!.headers.authorization, 'Bearer secret', 'the upstream still gets it');
      const metrics = await c.engine.metrics();
      expectMetrics(t, metrics, { 'meshwasm.callouts.started': 1, 'meshwasm.callouts.succeeded': 1 });
      const { completedAt: _, ...client } = res;
      return { client, callout: requestView(seen), upstream: requestView(c.up.seen[0]!, c.engine), metrics };
    },
  },
  {
    name: 'blocking: the upstream is reached only after the callout answered',
    config: { cluster: CLUSTER, mode: 'blocking' },
    back: () => () => ({ delayMs: 150 }),
    async run(t, c) {
      const res = await get(c);
      t.equal(res.status, 200);
      t.ok(c.up.seen[0]!.arrivedAt > c.back.seen[0]!.answeredAt!, 'upstream after back-python');
      await c.engine.settle();
      const metrics = await c.engine.metrics();
      expectMetrics(t, metrics, { 'meshwasm.callouts.started': 1, 'meshwasm.callouts.succeeded': 1 });
      return { status: res.status, upstream: requestView(c.up.seen[0]!, c.engine), metrics };
    },
  },
  {
    name: 'fan-out 3 with the outcome header',
    config: { cluster: CLUSTER, mode: 'blocking', fanOut: 3, outcomeHeader: 'x-meshwasm-outcome' },
    async run(t, c) {
      const res = await get(c);
      t.equal(res.status, 200);
      t.equal(res.headers['x-meshwasm-outcome'], '3/3');
      await c.engine.settle();
      t.equal(c.back.seen.length, 3);
      const metrics = await c.engine.metrics();
      expectMetrics(t, metrics, { 'meshwasm.callouts.started': 3, 'meshwasm.callouts.succeeded': 3 });
      return { res: { ...res, completedAt: undefined }, metrics };
    },
  },
  ...FAULTS.flatMap((fault): Scenario[] => [
    {
      name: `fault, async: ${fault.name} — the client is unaffected, the failure counted`,
      config: { cluster: CLUSTER, ...fault.config },
      ...fault.scenario,
      async run(t, c) {
        const res = await get(c);
        t.equal(res.status, 200);
        await new Promise((r) => setTimeout(r, fault.name === 'timeout' ? 250 : 50));
        await c.engine.settle();
        const metrics = await c.engine.metrics();
        expectMetrics(t, metrics, { 'meshwasm.callouts.started': 1, 'meshwasm.callouts.failed': 1 });
        return { status: res.status, metrics };
      },
    },
    {
      name: `fault, blocking with failureStatus 503: ${fault.name}`,
      config: {
        cluster: CLUSTER,
        mode: 'blocking',
        failureStatus: 503,
        outcomeHeader: 'x-meshwasm-outcome',
        ...fault.config,
      },
      ...fault.scenario,
      async run(t, c) {
        const res = await get(c);
        t.equal(res.status, 503);
        t.equal(c.up.seen.length, 0, 'the upstream never saw the request');
        await c.engine.settle();
        const metrics = await c.engine.metrics();
        expectMetrics(t, metrics, { 'meshwasm.callouts.started': 1, 'meshwasm.callouts.failed': 1 });
        return { res: { ...res, completedAt: undefined }, metrics };
      },
    },
  ]),
  {
    name: 'the client goes away while its blocking callouts are pending',
    config: { cluster: CLUSTER, mode: 'blocking', fanOut: 2, failureStatus: 503 },
    back:
      ({ release }) =>
      () => ({ hold: release }),
    async run(t, c) {
      const rq = http.request(c.engine.url, { headers: CLIENT_HEADERS, agent: false });
      rq.on('error', () => undefined);
      rq.end();
      await c.back.arrived(2);
      rq.destroy();
      await new Promise((r) => setTimeout(r, 100));
      c.releaseBack();
      await new Promise((r) => setTimeout(r, 100));
      await c.engine.settle();
      t.equal(c.up.seen.length, 0, 'nothing reached the upstream');
      return { metrics: await c.engine.metrics() };
    },
  },
  {
    name: 'sampling 0.5: exactly 3 of the first 6 requests call out',
    config: { cluster: CLUSTER, sampleRate: 0.5 },
    async run(t, c) {
      for (let i = 0; i < 6; i++) t.equal((await get(c)).status, 200);
      await c.engine.settle();
      t.equal(c.back.seen.length, 3);
      const metrics = await c.engine.metrics();
      expectMetrics(t, metrics, {
        'meshwasm.callouts.started': 3,
        'meshwasm.callouts.succeeded': 3,
        'meshwasm.callouts.skipped.sampling': 3,
      });
      return { metrics };
    },
  },
  {
    name: 'maxInFlight 1: callouts over the bound are skipped and counted',
    config: { cluster: CLUSTER, maxInFlight: 1 },
    back:
      ({ release }) =>
      () => ({ hold: release }),
    async run(t, c) {
      for (let i = 0; i < 3; i++) t.equal((await get(c)).status, 200);
      await c.back.arrived(1);
      const during = await c.engine.metrics();
      t.equal(during['meshwasm.callouts.in_flight'], 1);
      c.releaseBack();
      await c.engine.settle();
      t.equal(c.back.seen.length, 1);
      const metrics = await c.engine.metrics();
      expectMetrics(t, metrics, {
        'meshwasm.callouts.started': 1,
        'meshwasm.callouts.succeeded': 1,
        'meshwasm.callouts.skipped.in_flight': 2,
      });
      return { during, metrics };
    },
  },
  {
    name: 'a POST body reaches the upstream intact; a body-less POST callout',
    config: { cluster: CLUSTER, mode: 'blocking', method: 'POST' },
    async run(t, c) {
      const body = 'x'.repeat(100_000);
      const res = await new Promise<number>((resolve, reject) => {
        const rq = http.request(
          c.engine.url,
          { method: 'POST', agent: false, headers: { 'x-request-id': 'rid-post' } },
          (r) => {
            r.resume();
            r.on('end', () => resolve(r.statusCode ?? 0));
          },
        );
        rq.on('error', reject);
        rq.end(body);
      });
      t.equal(res, 200);
      t.equal(c.up.seen[0]!.body, body, 'the body arrived intact');
      await c.engine.settle();
      t.equal(c.back.seen[0]!.method, 'POST');
      return { upstream: requestView(c.up.seen[0]!, c.engine), callout: requestView(c.back.seen[0]!) };
    },
  },
  {
    name: 'empty configuration: traffic passes, no callout, one warning',
    config: '',
    async run(t, c) {
      const res = await get(c);
      t.equal(res.status, 200);
      await c.engine.settle();
      t.equal(c.back.seen.length, 0);
      // Envoy configures the plugin once per VM copy (the base VM, the main thread's, one per
      // worker), so it logs the same line up to three times; the host has one VM. Compare the lines.
      const lines = c.engine.logs().filter((l) => l.level !== 'trace' && l.level !== 'debug');
      const logs = [...new Map(lines.map((l) => [JSON.stringify(l), l])).values()];
      t.ok(
        logs.some((l) => l.level === 'warning'),
        'a warning',
      );
      return { logs, metrics: await c.engine.metrics() };
    },
  },
];

async function runScenario(t: Test, scenario: Scenario, engineName: EngineName): Promise<unknown> {
  const release = deferred();
  const back = await startBackPython(t, (scenario.back ?? (() => () => ({})))({ release: release.promise }));
  const up = await upstream(t);
  const calloutUrl = scenario.refused ? await refusingUrl() : back.url;
  const clusters = scenario.back === null ? {} : { [CLUSTER]: calloutUrl };
  const engine = await startEngine(t, engineName, {
    wasmPath: PLUGIN_PATH,
    config: scenario.config,
    upstream: up.url,
    clusters,
  });
  try {
    return await scenario.run(t, { engine, back, up, releaseBack: release.resolve });
  } finally {
    release.resolve();
  }
}

for (const scenario of SCENARIOS) {
  t.test(scenario.name, async (t) => {
    const observed: Partial<Record<EngineName, unknown>> = {};
    for (const engine of ENGINES) {
      await t.test(engine, async (t) => {
        if (engine === 'envoy' && !requireComponent(t, 'envoy')) return;
        observed[engine] = await runScenario(t, scenario, engine);
      });
    }
    if (observed.envoy !== undefined) t.same(observed.node, observed.envoy, 'node observed what Envoy did');
  });
}
