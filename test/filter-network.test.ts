// The filter end to end over real loopback HTTP: a client, the host's gateway running the compiled
// filter, an upstream (back-golang's stand-in) and back-python's stand-in answering the callouts.
import http from 'node:http';
import t from 'tap';
import { startGateway } from '../host/index.js';
import {
  type Answer,
  type BackPython,
  clientGet,
  refusingUrl,
  startBackPython,
  startUpstream,
} from './helpers/back-python.js';
import { CLUSTER, CLUSTER_HOST, STREAM_WRITES, metrics, startFilter } from './helpers/filter-host.js';

const CLIENT_HEADERS = {
  'x-request-id': 'rid-42',
  traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
  'x-b3-traceid': '4bf92f3577b34da6a3ce929d0e0e4736',
  'x-b3-sampled': '1',
  authorization: 'Bearer secret',
  cookie: 'session=1',
  'x-other': 'not-listed',
};

/** Filter + gateway in front of an upstream, callouts to `calloutUrl` (or an unknown cluster). */
type Teardown = { teardown(fn: () => unknown): void };

async function setup(t: Teardown, config: Record<string, unknown>, calloutUrl: string | null) {
  const upstream = await startUpstream(t);
  const f = await startFilter(
    { cluster: CLUSTER, ...config },
    { clusters: calloutUrl ? { [CLUSTER]: calloutUrl } : {} },
  );
  const gw = await startGateway({ host: f.host, upstream: upstream.url });
  t.teardown(async () => {
    await gw.close();
    f.host.shutdown();
  });
  return { ...f, gw, upstream };
}

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

t.test('async: the client response completes while back-python is still answering', async (t) => {
  const clientDone = deferred();
  // back-python answers only once the client has its response (or after 3 s, which fails the test)
  const back = await startBackPython(t, () => ({
    hold: Promise.race([clientDone.promise, new Promise((r) => setTimeout(r, 3000))]),
  }));
  const { gw, host } = await setup(t, {}, back.url);
  const res = await clientGet(gw.url, CLIENT_HEADERS);
  clientDone.resolve();
  t.equal(res.status, 200);
  t.equal(res.body, 'ok', 'the upstream answer');
  await back.arrived(1);
  await host.whenIdle();
  const answeredAt = back.seen[0]!.answeredAt;
  t.ok(
    answeredAt !== undefined && answeredAt > res.completedAt,
    'back-python answered after the client had its response',
  );
  t.same(metrics(host), {
    started: 1n,
    succeeded: 1n,
    failed: 0n,
    skippedInFlight: 0n,
    skippedSampling: 0n,
    inFlight: 0n,
  });
  t.notOk(host.isFailed());
});

t.test('blocking: the request reaches the upstream only after every callout answered', async (t) => {
  const back = await startBackPython(t, (_rq, i) => ({ delayMs: 60 + 20 * i }));
  const { gw, host, upstream } = await setup(
    t,
    { mode: 'blocking', fanOut: 3, outcomeHeader: 'total-dispatched' },
    back.url,
  );
  const res = await clientGet(gw.url, CLIENT_HEADERS);
  t.equal(res.status, 200);
  t.equal(res.headers['total-dispatched'], '3/3');
  t.equal(back.seen.length, 3);
  const lastAnswer = back.seen.map((s) => s.answeredAt!).reduce((a, b) => (a > b ? a : b));
  t.ok(upstream.seen[0]!.arrivedAt > lastAnswer, 'upstream saw the request after the last callout answer');
  t.ok(res.completedAt > lastAnswer);
  t.same(metrics(host), {
    started: 3n,
    succeeded: 3n,
    failed: 0n,
    skippedInFlight: 0n,
    skippedSampling: 0n,
    inFlight: 0n,
  });
});

t.test(
  'fan-out: back-python gets exactly N requests with the right method, path, authority and headers',
  async (t) => {
    const back = await startBackPython(t);
    const { gw, host } = await setup(
      t,
      { fanOut: 5, method: 'GET', path: '/jump', headers: { 'x-jump-source': 'meshwasm' } },
      back.url,
    );
    const res = await clientGet(gw.url, CLIENT_HEADERS);
    t.equal(res.status, 200);
    await back.arrived(5);
    await host.whenIdle();
    await new Promise((r) => setTimeout(r, 50)); // nothing more arrives
    t.equal(back.seen.length, 5, 'exactly 5');
    for (const s of back.seen) {
      t.equal(s.method, 'GET');
      t.equal(s.url, '/jump');
      t.equal(s.headers.host, CLUSTER_HOST, ':authority');
      t.equal(s.headers['x-request-id'], 'rid-42');
      t.equal(s.headers.traceparent, CLIENT_HEADERS.traceparent);
      t.equal(s.headers['x-b3-traceid'], CLIENT_HEADERS['x-b3-traceid']);
      t.equal(s.headers['x-b3-sampled'], '1');
      t.equal(s.headers['x-jump-source'], 'meshwasm');
      t.equal(s.headers.authorization, undefined, 'never authorization');
      t.equal(s.headers.cookie, undefined, 'never cookie');
      t.equal(s.headers['x-other'], undefined, 'nothing off the allowlist');
    }
    t.same(metrics(host), {
      started: 5n,
      succeeded: 5n,
      failed: 0n,
      skippedInFlight: 0n,
      skippedSampling: 0n,
      inFlight: 0n,
    });
  },
);

type Fault = { name: string; url: (t: Teardown) => Promise<string | null>; config?: Record<string, unknown> };
const FAULTS: Fault[] = [
  { name: 'connection refused', url: () => refusingUrl() },
  {
    name: 'slower than the timeout',
    url: async (t) => (await startBackPython(t, () => ({ delayMs: 1500 }))).url,
    config: { timeoutMs: 100 },
  },
  { name: '500', url: async (t) => (await startBackPython(t, () => ({ status: 500, body: 'boom' }))).url },
  {
    name: 'reset mid-response',
    url: async (t) => (await startBackPython(t, (): Answer => ({ resetMidResponse: true }))).url,
  },
  { name: 'unknown cluster', url: async () => null },
];

t.test('faults: the client still succeeds in async mode and every outcome is counted', async (t) => {
  for (const fault of FAULTS) {
    await t.test(fault.name, async (t) => {
      const { gw, host } = await setup(t, { fanOut: 2, ...fault.config }, await fault.url(t));
      const res = await clientGet(gw.url, CLIENT_HEADERS);
      t.equal(res.status, 200);
      t.equal(res.body, 'ok');
      await host.whenIdle();
      t.same(metrics(host), {
        started: 2n,
        succeeded: 0n,
        failed: 2n,
        skippedInFlight: 0n,
        skippedSampling: 0n,
        inFlight: 0n,
      });
      t.notOk(host.isFailed(), 'no trap');
    });
  }
});

t.test('faults in blocking mode: continue by default, or reply with failureStatus', async (t) => {
  for (const fault of FAULTS) {
    await t.test(`${fault.name}, continue`, async (t) => {
      const { gw, host, upstream } = await setup(
        t,
        { mode: 'blocking', outcomeHeader: 'x-outcome', ...fault.config },
        await fault.url(t),
      );
      const res = await clientGet(gw.url, CLIENT_HEADERS);
      t.equal(res.status, 200, 'continued to the upstream');
      t.equal(res.headers['x-outcome'], '0/1');
      t.equal(upstream.seen.length, 1);
      t.same(metrics(host), {
        started: 1n,
        succeeded: 0n,
        failed: 1n,
        skippedInFlight: 0n,
        skippedSampling: 0n,
        inFlight: 0n,
      });
      t.notOk(host.isFailed());
    });
    await t.test(`${fault.name}, failureStatus 503`, async (t) => {
      const { gw, host, upstream } = await setup(
        t,
        { mode: 'blocking', failureStatus: 503, outcomeHeader: 'x-outcome', ...fault.config },
        await fault.url(t),
      );
      const res = await clientGet(gw.url, CLIENT_HEADERS);
      t.equal(res.status, 503, 'the failure reply');
      t.equal(res.headers['x-outcome'], '0/1');
      t.equal(upstream.seen.length, 0, 'the request never reached the upstream');
      t.same(metrics(host), {
        started: 1n,
        succeeded: 0n,
        failed: 1n,
        skippedInFlight: 0n,
        skippedSampling: 0n,
        inFlight: 0n,
      });
      t.notOk(host.isFailed());
    });
  }
});

t.test('early end: the client stream ends while its callouts are pending', async (t) => {
  for (const mode of ['blocking', 'async']) {
    await t.test(mode, async (t) => {
      const release = deferred();
      const back: BackPython = await startBackPython(t, () => ({ hold: release.promise }));
      const { gw, host, calls } = await setup(
        t,
        { mode, fanOut: 2, failureStatus: 503, outcomeHeader: 'x-outcome' },
        back.url,
      );
      if (mode === 'blocking') {
        // the client gives up while the request waits for its callouts
        const rq = http.request(gw.url, { headers: CLIENT_HEADERS, agent: false });
        rq.on('error', () => undefined);
        rq.end();
        await back.arrived(2);
        rq.destroy();
      } else {
        // the exchange completes normally before the callouts return
        t.equal((await clientGet(gw.url, CLIENT_HEADERS)).status, 200);
        await back.arrived(2);
      }
      const streamId = 2; // the first stream of this VM
      for (let i = 0; i < 100 && host.getStreamState(streamId).phase !== 'completed'; i++)
        await new Promise((r) => setTimeout(r, 10));
      t.equal(host.getStreamState(streamId).phase, 'completed', 'on_log, on_done, on_delete ran');
      t.same(metrics(host).inFlight, 2n, 'both callouts still in flight');
      const mark = calls().length;
      release.resolve();
      await host.whenIdle();
      const after = calls().slice(mark);
      t.ok(
        after.some((c) => c.name === 'proxy_get_header_map_value'),
        'the answers were delivered to the filter',
      );
      t.same(
        after.filter((c) => STREAM_WRITES.has(c.name)),
        [],
        'nothing written to the ended stream',
      );
      t.same(metrics(host), {
        started: 2n,
        succeeded: 2n,
        failed: 0n,
        skippedInFlight: 0n,
        skippedSampling: 0n,
        inFlight: 0n,
      });
      t.notOk(host.isFailed(), 'no trap');
    });
  }
});
