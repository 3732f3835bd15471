// The filter's callout behaviour, driven directly through the host with callouts answered by hand
// ('manual' cluster): modes, trigger, fan-out, header propagation, outcome header, failure policy,
// in-flight bound, sampling, metrics, and streams that end before their callouts.
import t from 'tap';
import { FilterHeadersStatus, LogLevel } from '../host/index.js';
import {
  CLUSTER,
  STREAM_WRITES,
  UPSTREAM_RESPONSE,
  clientRequest,
  header,
  metrics,
  startFilter,
} from './helpers/filter-host.js';

const STOP = FilterHeadersStatus.StopAllIterationAndWatermark; // what Envoy makes of StopIteration
const OK_REPLY = { headers: [[':status', '200']] as Array<[string, string]>, body: 'jumped' };

t.test('async: the request and response go on at once; the callout is answered later', async (t) => {
  const { host } = await startFilter({ cluster: CLUSTER });
  const id = host.initializeHttpContext();
  t.equal(host.callOnRequestHeaders(id, clientRequest(), true), FilterHeadersStatus.Continue);
  t.equal(host.getStreamState(id).continuedRequest, true, 'request headers went on');
  t.equal(host.callOnResponseHeaders(id, UPSTREAM_RESPONSE, true), FilterHeadersStatus.Continue);
  t.equal(host.getStreamState(id).continuedResponse, true, 'response went on');
  const [c] = host.getHttpCallouts({ pending: true });
  t.ok(c, 'callout still pending while the response completed');
  t.same(metrics(host), {
    started: 1n,
    succeeded: 0n,
    failed: 0n,
    skippedInFlight: 0n,
    skippedSampling: 0n,
    inFlight: 1n,
  });
  host.respondToHttpCall(c!.token, OK_REPLY);
  t.same(metrics(host), {
    started: 1n,
    succeeded: 1n,
    failed: 0n,
    skippedInFlight: 0n,
    skippedSampling: 0n,
    inFlight: 0n,
  });
  t.same(host.getCurrentResponseHeaders(id), UPSTREAM_RESPONSE, 'the client response is untouched');
  host.completeHttpContext(id);
  t.notOk(host.isFailed());
});

t.test('blocking: the request waits until every callout finished, then continues', async (t) => {
  const { host } = await startFilter({
    cluster: CLUSTER,
    mode: 'blocking',
    fanOut: 3,
    outcomeHeader: 'total-dispatched',
  });
  const id = host.initializeHttpContext();
  t.equal(host.callOnRequestHeaders(id, clientRequest(), true), STOP);
  const callouts = host.getHttpCallouts({ pending: true });
  t.equal(callouts.length, 3);
  host.respondToHttpCall(callouts[0]!.token, OK_REPLY);
  host.respondToHttpCall(callouts[2]!.token, OK_REPLY);
  t.equal(host.getStreamState(id).continuedRequest, false, 'still waiting for the second callout');
  host.respondToHttpCall(callouts[1]!.token, OK_REPLY);
  t.equal(host.getStreamState(id).continuedRequest, true, 'the last reply resumed the request');
  t.equal(host.callOnResponseHeaders(id, UPSTREAM_RESPONSE, true), FilterHeadersStatus.Continue);
  t.equal(
    header(host.getCurrentResponseHeaders(id), 'total-dispatched'),
    '3/3',
    'outcome on the client response',
  );
  host.completeHttpContext(id);
  t.same(metrics(host), {
    started: 3n,
    succeeded: 3n,
    failed: 0n,
    skippedInFlight: 0n,
    skippedSampling: 0n,
    inFlight: 0n,
  });
});

t.test('blocking, failures: continue by default, or reply with failureStatus', async (t) => {
  // default policy: continue, the outcome shows the failures
  {
    const { host } = await startFilter({
      cluster: CLUSTER,
      mode: 'blocking',
      fanOut: 4,
      outcomeHeader: 'x-outcome',
    });
    const id = host.initializeHttpContext();
    host.callOnRequestHeaders(id, clientRequest(), true);
    const [a, b, c, d] = host.getHttpCallouts({ pending: true });
    host.respondToHttpCall(a!.token, { headers: [[':status', '500']], body: 'boom' });
    host.timeoutHttpCall(b!.token);
    host.failHttpCall(c!.token);
    host.respondToHttpCall(d!.token, { headers: [[':status', '204']] });
    t.equal(host.getStreamState(id).continuedRequest, true, 'continued despite 3 failures');
    t.equal(host.getSentLocalResponse(id), undefined);
    host.callOnResponseHeaders(id, UPSTREAM_RESPONSE, true);
    t.equal(header(host.getCurrentResponseHeaders(id), 'x-outcome'), '1/4');
    host.completeHttpContext(id);
    t.same(metrics(host), {
      started: 4n,
      succeeded: 1n,
      failed: 3n,
      skippedInFlight: 0n,
      skippedSampling: 0n,
      inFlight: 0n,
    });
  }
  // failureStatus: one failed callout -> local reply with that status, carrying the outcome header
  {
    const { host } = await startFilter({
      cluster: CLUSTER,
      mode: 'blocking',
      fanOut: 2,
      failureStatus: 503,
      outcomeHeader: 'x-outcome',
    });
    const id = host.initializeHttpContext();
    host.callOnRequestHeaders(id, clientRequest(), true);
    const [a, b] = host.getHttpCallouts({ pending: true });
    host.respondToHttpCall(a!.token, OK_REPLY);
    t.equal(host.getSentLocalResponse(id), undefined, 'no decision before the last callout');
    host.timeoutHttpCall(b!.token);
    const reply = host.getSentLocalResponse(id);
    t.equal(reply?.statusCode, 503);
    t.equal(reply?.details, 'meshwasm_callout_failed');
    t.equal(header(reply!.headers, 'x-outcome'), '1/2');
    t.equal(host.getStreamState(id).continuedRequest, false, 'the request never reached the upstream');
    // the local reply passed through the filter's own response path without a second outcome header
    t.equal(host.getCurrentResponseHeaders(id).filter(([k]) => k === 'x-outcome').length, 1);
    host.completeHttpContext(id);
    t.notOk(host.isFailed());
  }
});

t.test('blocking, nothing to wait for: an unknown cluster is a failure decided at once', async (t) => {
  const { host } = await startFilter(
    {
      cluster: 'no-such-cluster',
      mode: 'blocking',
      fanOut: 2,
      failureStatus: 502,
      outcomeHeader: 'x-outcome',
    },
    { clusters: {} },
  );
  const id = host.initializeHttpContext();
  t.equal(host.callOnRequestHeaders(id, clientRequest(), true), STOP);
  t.equal(host.getSentLocalResponse(id)?.statusCode, 502);
  t.equal(header(host.getSentLocalResponse(id)!.headers, 'x-outcome'), '0/2');
  t.same(metrics(host), {
    started: 2n,
    succeeded: 0n,
    failed: 2n,
    skippedInFlight: 0n,
    skippedSampling: 0n,
    inFlight: 0n,
  });
  // and with the default policy the request simply goes on
  const { host: h2 } = await startFilter({ cluster: 'no-such-cluster', mode: 'blocking' }, { clusters: {} });
  const id2 = h2.initializeHttpContext();
  t.equal(h2.callOnRequestHeaders(id2, clientRequest(), true), FilterHeadersStatus.Continue);
  t.equal(metrics(h2).failed, 1n);
});

t.test('fan-out: N callouts with method, path, authority, static headers, body, timeout', async (t) => {
  const { host } = await startFilter({
    cluster: CLUSTER,
    method: 'POST',
    path: '/jump?from=wasm',
    authority: 'back-python:8444',
    timeoutMs: 1234,
    fanOut: 10,
    headers: { 'x-jump': 'yes', 'content-type': 'application/json' },
    body: '{"hop":1}',
  });
  const id = host.initializeHttpContext();
  host.callOnRequestHeaders(id, clientRequest(), true);
  const callouts = host.getHttpCallouts();
  t.equal(callouts.length, 10);
  t.same(new Set(callouts.map((c) => c.token)).size, 10, 'distinct tokens');
  for (const c of callouts) {
    t.equal(c.cluster, CLUSTER);
    t.equal(header(c.headers, ':method'), 'POST');
    t.equal(header(c.headers, ':path'), '/jump?from=wasm');
    t.equal(header(c.headers, ':authority'), 'back-python:8444');
    t.equal(header(c.headers, 'x-jump'), 'yes');
    t.equal(header(c.headers, 'content-type'), 'application/json');
    t.equal(header(c.headers, 'content-length'), '9', 'Envoy adds content-length for the body');
    t.equal(Buffer.from(c.body).toString(), '{"hop":1}');
    t.equal(c.timeoutMs, 1234);
    t.equal(c.originContextId, id);
  }
  t.same(metrics(host).started, 10n);
});

t.test('header propagation: the allowlist, prefixes, and credentials only by exact name', async (t) => {
  const request = clientRequest([
    ['tracestate', 'k=v'],
    ['b3', '1-2-1'],
    ['x-b3-sampled', '1'],
    ['x-b3-sampled', '0'],
    ['x-custom', 'c'],
    ['content-length', '0'],
  ]);
  const forwarded = async (propagateHeaders?: string[], headers?: Record<string, string>) => {
    const { host } = await startFilter({
      cluster: CLUSTER,
      ...(propagateHeaders ? { propagateHeaders } : {}),
      ...(headers ? { headers } : {}),
    });
    const id = host.initializeHttpContext();
    host.callOnRequestHeaders(id, request, true);
    return host
      .getHttpCallouts()[0]!
      .headers.filter(([k]) => !k.startsWith(':') && !k.startsWith('x-envoy-'));
  };
  t.same(
    await forwarded(),
    [
      ['x-request-id', 'rid-1'],
      ['traceparent', '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'],
      ['x-b3-traceid', '4bf92f3577b34da6a3ce929d0e0e4736'],
      ['x-b3-spanid', '00f067aa0ba902b7'],
      ['tracestate', 'k=v'],
      ['b3', '1-2-1'],
      ['x-b3-sampled', '1'],
      ['x-b3-sampled', '0'],
    ],
    'default allowlist, in request order, repeated headers kept',
  );
  const all = await forwarded(['*']);
  t.notOk(
    all.some(([k]) => ['authorization', 'cookie', 'proxy-authorization'].includes(k)),
    "'*' never selects credentials",
  );
  t.notOk(
    all.some(([k]) => k === 'content-length'),
    'nor framing headers',
  );
  t.ok(all.some(([k]) => k === 'x-custom') && all.some(([k]) => k === 'user-agent'), "'*' selects the rest");
  t.same(
    await forwarded(['authorization', 'cookie']),
    [
      ['authorization', 'Bearer secret'],
      ['cookie', 'session=1'],
    ],
    'credentials listed by exact name are forwarded',
  );
  t.same(
    await forwarded(['proxy-*', 'x-c*']),
    [['x-custom', 'c']],
    'a prefix never selects proxy-authorization',
  );
  t.same(
    await forwarded(['content-length', 'x-custom']),
    [['x-custom', 'c']],
    'framing headers are not propagated even by name',
  );
  t.same(await forwarded([]), [], 'empty allowlist: nothing forwarded');
  const withStatic = await forwarded(['x-request-id', 'x-*'], { 'x-request-id': 'fixed' });
  t.same(
    withStatic.filter(([k]) => k === 'x-request-id'),
    [['x-request-id', 'fixed']],
    'a configured header wins over the propagated one',
  );
});

t.test(
  'response trigger: callouts fire on the response, with request headers captured at request time',
  async (t) => {
    const { host, calls } = await startFilter({
      cluster: CLUSTER,
      trigger: 'response',
      mode: 'blocking',
      fanOut: 10,
      outcomeHeader: 'total-dispatched',
    });
    const id = host.initializeHttpContext();
    t.equal(host.callOnRequestHeaders(id, clientRequest(), true), FilterHeadersStatus.Continue);
    t.same(host.getHttpCallouts(), [], 'no callout on the request');
    t.same(host.getCurrentRequestHeaders(id).length > 0, true);
    t.equal(host.callOnResponseHeaders(id, UPSTREAM_RESPONSE, true), STOP, 'the response waits');
    const callouts = host.getHttpCallouts({ pending: true });
    t.equal(callouts.length, 10, 'the reference scenario: 10 callouts on the response');
    // Envoy forgets the request headers after Continue; the filter still forwards the ones it captured.
    t.equal(header(callouts[0]!.headers, 'x-request-id'), 'rid-1');
    t.equal(
      header(callouts[9]!.headers, 'traceparent'),
      '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
    );
    const pairsReads = calls().filter((c) => c.name === 'proxy_get_header_map_pairs');
    t.equal(pairsReads.length, 1, 'request headers read once, at request time');
    for (const c of callouts.slice(0, 9)) host.respondToHttpCall(c.token, OK_REPLY);
    t.equal(host.getStreamState(id).continuedResponse, false);
    host.failHttpCall(callouts[9]!.token);
    t.equal(host.getStreamState(id).continuedResponse, true, 'resumed after the last one');
    t.equal(header(host.getCurrentResponseHeaders(id), 'total-dispatched'), '9/10');
    host.completeHttpContext(id);
    t.same(metrics(host), {
      started: 10n,
      succeeded: 9n,
      failed: 1n,
      skippedInFlight: 0n,
      skippedSampling: 0n,
      inFlight: 0n,
    });
  },
);

t.test('response trigger, async: nothing waits', async (t) => {
  const { host } = await startFilter({
    cluster: CLUSTER,
    trigger: 'response',
    fanOut: 2,
    propagateHeaders: [],
  });
  const id = host.initializeHttpContext();
  host.callOnRequestHeaders(id, clientRequest(), true);
  t.equal(host.callOnResponseHeaders(id, UPSTREAM_RESPONSE, true), FilterHeadersStatus.Continue);
  const callouts = host.getHttpCallouts({ pending: true });
  t.equal(callouts.length, 2);
  t.same(
    callouts[0]!.headers.filter(([k]) => !k.startsWith(':') && !k.startsWith('x-envoy-')),
    [],
  );
  host.completeHttpContext(id);
  for (const c of callouts) host.respondToHttpCall(c.token, OK_REPLY);
  t.equal(metrics(host).succeeded, 2n);
});

t.test('response trigger, blocking, failureStatus: the reply replaces the upstream response', async (t) => {
  const { host } = await startFilter({
    cluster: CLUSTER,
    trigger: 'response',
    mode: 'blocking',
    failureStatus: 504,
    outcomeHeader: 'x-outcome',
  });
  const id = host.initializeHttpContext();
  host.callOnRequestHeaders(id, clientRequest(), true);
  t.equal(host.callOnResponseHeaders(id, UPSTREAM_RESPONSE, true), STOP);
  host.respondToHttpCall(host.getHttpCallouts()[0]!.token, { headers: [[':status', '404']] });
  t.equal(host.getSentLocalResponse(id)?.statusCode, 504);
  t.equal(header(host.getSentLocalResponse(id)!.headers, 'x-outcome'), '0/1');
  host.completeHttpContext(id);
  t.equal(host.getHttpCallouts().length, 1, 'the local reply did not trigger more callouts');
  t.notOk(host.isFailed());
});

t.test('maxInFlight: callouts over the bound are skipped and counted, never queued', async (t) => {
  const { host } = await startFilter({ cluster: CLUSTER, fanOut: 3, maxInFlight: 5 });
  const a = host.initializeHttpContext();
  host.callOnRequestHeaders(a, clientRequest(), true);
  const b = host.initializeHttpContext();
  host.callOnRequestHeaders(b, clientRequest(), true);
  t.equal(host.getHttpCallouts().length, 5, 'only 5 dispatched');
  t.same(metrics(host), {
    started: 5n,
    succeeded: 0n,
    failed: 0n,
    skippedInFlight: 1n,
    skippedSampling: 0n,
    inFlight: 5n,
  });
  // answering frees room again
  for (const c of host.getHttpCallouts({ pending: true }).slice(0, 2))
    host.respondToHttpCall(c.token, OK_REPLY);
  const c = host.initializeHttpContext();
  host.callOnRequestHeaders(c, clientRequest(), true);
  t.same(metrics(host), {
    started: 7n,
    succeeded: 2n,
    failed: 0n,
    skippedInFlight: 2n,
    skippedSampling: 0n,
    inFlight: 5n,
  });
  for (const x of host.getHttpCallouts({ pending: true })) host.respondToHttpCall(x.token, OK_REPLY);
  t.equal(metrics(host).inFlight, 0n);
});

t.test('maxInFlight in blocking mode: a request whose callouts were all skipped continues', async (t) => {
  const { host } = await startFilter({
    cluster: CLUSTER,
    mode: 'blocking',
    failureStatus: 503,
    maxInFlight: 1,
    outcomeHeader: 'x-outcome',
  });
  const a = host.initializeHttpContext();
  t.equal(host.callOnRequestHeaders(a, clientRequest(), true), STOP);
  const b = host.initializeHttpContext();
  t.equal(
    host.callOnRequestHeaders(b, clientRequest(), true),
    FilterHeadersStatus.Continue,
    'skipped is not failed',
  );
  host.callOnResponseHeaders(b, UPSTREAM_RESPONSE, true);
  t.equal(header(host.getCurrentResponseHeaders(b), 'x-outcome'), '0/0');
  t.same(metrics(host).skippedInFlight, 1n);
});

t.test('sampling is deterministic: exactly floor(n * rate) of the first n requests', async (t) => {
  // rates as thousandths, so the expectation is exact integer arithmetic
  for (const [perMille, n] of [
    [250, 40],
    [100, 30],
    [300, 30],
    [125, 24],
    [0, 10],
    [999, 10],
    [1000, 5],
  ] as const) {
    const rate = perMille / 1000;
    const { host } = await startFilter({ cluster: CLUSTER, sampleRate: rate, fanOut: 2 });
    for (let i = 1; i <= n; i++) {
      const id = host.initializeHttpContext();
      host.callOnRequestHeaders(id, clientRequest(), true);
      host.completeHttpContext(id);
      t.equal(
        host.getHttpCallouts().length / 2,
        Math.floor((i * perMille) / 1000),
        `rate ${rate}: sampled after ${i} requests`,
      );
    }
    const sampled = Math.floor((n * perMille) / 1000);
    t.same(
      metrics(host).skippedSampling,
      BigInt(2 * (n - sampled)),
      `rate ${rate}: skipped callouts counted`,
    );
    t.same(metrics(host).started, BigInt(2 * sampled));
  }
});

t.test('outcome header only in blocking mode, and only on sampled requests', async (t) => {
  const { host } = await startFilter({ cluster: CLUSTER, outcomeHeader: 'x-outcome' });
  const id = host.initializeHttpContext();
  host.callOnRequestHeaders(id, clientRequest(), true);
  host.respondToHttpCall(host.getHttpCallouts()[0]!.token, OK_REPLY);
  host.callOnResponseHeaders(id, UPSTREAM_RESPONSE, true);
  t.equal(header(host.getCurrentResponseHeaders(id), 'x-outcome'), undefined, 'async: no outcome header');
  const { host: h2 } = await startFilter({
    cluster: CLUSTER,
    mode: 'blocking',
    sampleRate: 0,
    outcomeHeader: 'x-outcome',
  });
  const id2 = h2.initializeHttpContext();
  t.equal(h2.callOnRequestHeaders(id2, clientRequest(), true), FilterHeadersStatus.Continue);
  h2.callOnResponseHeaders(id2, UPSTREAM_RESPONSE, true);
  t.equal(header(h2.getCurrentResponseHeaders(id2), 'x-outcome'), undefined, 'unsampled: no outcome header');
});

t.test(
  'early end: the stream ends before its callouts return; nothing traps, nothing is written to it',
  async (t) => {
    for (const cfg of [
      { cluster: CLUSTER, fanOut: 2 },
      { cluster: CLUSTER, fanOut: 2, mode: 'blocking', failureStatus: 503, outcomeHeader: 'x-outcome' },
      { cluster: CLUSTER, fanOut: 2, mode: 'blocking', trigger: 'response', outcomeHeader: 'x-outcome' },
    ]) {
      const { host, calls } = await startFilter(cfg);
      const id = host.initializeHttpContext();
      host.callOnRequestHeaders(id, clientRequest(), true);
      if (cfg.trigger === 'response') host.callOnResponseHeaders(id, UPSTREAM_RESPONSE, true);
      const pending = host.getHttpCallouts({ pending: true });
      t.equal(pending.length, 2, `${JSON.stringify(cfg)}: callouts pending`);
      host.completeHttpContext(id); // the client went away: on_log, on_done, on_delete
      const ended = host.getStreamState(id);
      const mark = calls().length;
      host.respondToHttpCall(pending[0]!.token, OK_REPLY);
      host.failHttpCall(pending[1]!.token);
      const after = calls().slice(mark);
      t.same(
        after.filter((c) => STREAM_WRITES.has(c.name)),
        [],
        'no host call that writes to a stream',
      );
      t.same(
        after.map((c) => c.name),
        ['proxy_get_header_map_value'],
        'only the :status read of the answer (a reset has none); the metrics wait for the tick',
      );
      t.same(host.getStreamState(id), ended, 'the ended stream is unchanged');
      t.equal(host.getSentLocalResponse(id), undefined);
      t.notOk(host.isFailed(), 'no trap');
      t.same(metrics(host), {
        started: 2n,
        succeeded: 1n,
        failed: 1n,
        skippedInFlight: 0n,
        skippedSampling: 0n,
        inFlight: 0n,
      });
      t.same(host.getLogs(LogLevel.warn), []);
    }
  },
);

t.test('shutdown with callouts in flight: nothing is delivered, nothing traps', async (t) => {
  const { host } = await startFilter({ cluster: CLUSTER, mode: 'blocking', fanOut: 2 });
  const id = host.initializeHttpContext();
  host.callOnRequestHeaders(id, clientRequest(), true);
  host.shutdown();
  t.notOk(host.isFailed());
  t.same(host.getLogs(LogLevel.warn), []);
});

t.test('the request path makes no log calls and reads headers at most once', async (t) => {
  const { host, calls } = await startFilter({
    cluster: CLUSTER,
    mode: 'blocking',
    fanOut: 2,
    outcomeHeader: 'x-outcome',
  });
  const mark = calls().length;
  for (let i = 0; i < 20; i++) {
    const id = host.initializeHttpContext();
    host.callOnRequestHeaders(id, clientRequest(), true);
    for (const c of host.getHttpCallouts({ pending: true })) host.respondToHttpCall(c.token, OK_REPLY);
    host.callOnResponseHeaders(id, UPSTREAM_RESPONSE, true);
    host.completeHttpContext(id);
  }
  const perRequest = calls().slice(mark);
  t.equal(perRequest.filter((c) => c.name === 'proxy_log').length, 0, 'no proxy_log on the request path');
  t.equal(
    perRequest.filter((c) => c.name === 'proxy_get_header_map_pairs').length,
    20,
    'one header read per request',
  );
  t.equal(perRequest.filter((c) => c.name === 'proxy_http_call').length, 40);
});

// Inside Envoy each callback into the VM and each host call costs thousands of instructions, and a
// metric update is also an atomic write to a shared stat (bench/envoy.mjs, bench/envoy-callgrind.mjs):
// this is the whole bill of an async request, pinned.
t.test(
  'an async request costs four callbacks into the VM and three host calls, reply included',
  async (t) => {
    const { host, calls } = await startFilter({ cluster: CLUSTER });
    t.equal(host.getTickPeriod(), 100, 'the metrics are published every 100 ms');
    for (let i = 0; i < 3; i++) {
      host.clearVmCallTrace();
      host.clearHostCallTrace();
      const id = host.initializeHttpContext();
      host.callOnRequestHeaders(id, clientRequest(), true);
      host.callOnResponseHeaders(id, UPSTREAM_RESPONSE, true);
      host.completeHttpContext(id);
      const [c] = host.getHttpCallouts({ pending: true });
      host.respondToHttpCall(c!.token, OK_REPLY);
      t.same(
        host.getVmCallTrace().map((c) => c.fn),
        [
          'proxy_on_request_headers',
          'proxy_on_response_headers',
          'proxy_on_delete',
          'proxy_on_http_call_response',
        ],
        'no proxy_on_context_create, proxy_on_done or proxy_on_log: the module does not export them',
      );
      t.same(
        calls().map((c) => c.name),
        [
          'proxy_get_header_map_pairs',
          'proxy_http_call',
          'proxy_get_header_map_value' /* the reply's :status */,
        ],
      );
    }
  },
);

t.test(
  'the tick publishes the metrics: each counter that moved once, the in-flight gauge netted',
  async (t) => {
    const { host, calls } = await startFilter({ cluster: CLUSTER });
    const publish = () => {
      host.clearHostCallTrace();
      host.tick();
      return calls().map((c) => c.name);
    };
    t.same(publish(), [], 'nothing happened, nothing to publish');
    for (let i = 0; i < 5; i++) {
      const id = host.initializeHttpContext();
      host.callOnRequestHeaders(id, clientRequest(), true);
      host.completeHttpContext(id);
    }
    const pending = host.getHttpCallouts({ pending: true });
    for (const c of pending.slice(0, 3)) host.respondToHttpCall(c.token, OK_REPLY);
    host.failHttpCall(pending[3]!.token);
    t.equal(host.getCounter('meshwasm.callouts.started'), 0n, 'not published before the tick');
    t.same(
      publish(),
      [
        'proxy_increment_metric',
        'proxy_increment_metric',
        'proxy_increment_metric',
        'proxy_increment_metric',
      ],
      'started, succeeded, failed, in_flight',
    );
    t.same(metrics(host), {
      started: 5n,
      succeeded: 3n,
      failed: 1n,
      skippedInFlight: 0n,
      skippedSampling: 0n,
      inFlight: 1n,
    });
    // One more callout, dispatched and answered within the period: the gauge moved +1 and -1.
    const id = host.initializeHttpContext();
    host.callOnRequestHeaders(id, clientRequest(), true);
    const [extra] = host.getHttpCallouts({ pending: true }).filter((c) => c.token !== pending[4]!.token);
    host.respondToHttpCall(extra!.token, OK_REPLY);
    t.same(publish(), ['proxy_increment_metric', 'proxy_increment_metric'], 'in_flight netted to 0: no call');
    t.same(metrics(host), {
      started: 6n,
      succeeded: 4n,
      failed: 1n,
      skippedInFlight: 0n,
      skippedSampling: 0n,
      inFlight: 1n,
    });
  },
);

t.test('the root going away publishes what the tick has not', async (t) => {
  const { host } = await startFilter({ cluster: CLUSTER });
  const id = host.initializeHttpContext();
  host.callOnRequestHeaders(id, clientRequest(), true);
  t.equal(host.getCounter('meshwasm.callouts.started'), 0n);
  host.shutdown(); // proxy_on_done (not exported), then proxy_on_delete of the root
  t.equal(host.getCounter('meshwasm.callouts.started'), 1n);
  t.equal(host.getGauge('meshwasm.callouts.in_flight'), 1n);
});

t.test('odd request headers and callout replies never trap, and only 2xx counts as success', async (t) => {
  const { host } = await startFilter({
    cluster: CLUSTER,
    mode: 'blocking',
    fanOut: 6,
    propagateHeaders: ['*', 'authorization'],
  });
  const many: Array<[string, string]> = Array.from({ length: 1000 }, (_, i) => [
    `x-h${i}`,
    'v'.repeat(i % 50),
  ]);
  const odd = clientRequest([
    ['x-b3-', ''],
    ['x-bin', '\u0000\u00ff\u00e9'],
    ['x-long', 'l'.repeat(60_000)],
    ...many,
  ]);
  const id = host.initializeHttpContext();
  t.equal(host.callOnRequestHeaders(id, odd, true), STOP);
  const callouts = host.getHttpCallouts({ pending: true });
  t.equal(callouts.length, 6);
  const forwarded = callouts[0]!.headers.filter(([k]) => !k.startsWith(':') && !k.startsWith('x-envoy-'));
  t.ok(forwarded.length > 1000, 'all allowlisted headers forwarded');
  t.equal(header(forwarded, 'x-long')?.length, 60_000);
  t.equal(header(forwarded, 'authorization'), 'Bearer secret', 'listed by exact name');
  t.notOk(forwarded.some(([k]) => k === 'cookie'));
  const statuses = ['200', '299', '2', '2000', '20x', '300'];
  callouts.forEach((c, i) => host.respondToHttpCall(c.token, { headers: [[':status', statuses[i]!]] }));
  t.equal(host.getStreamState(id).continuedRequest, true);
  t.same(
    metrics(host),
    { started: 6n, succeeded: 2n, failed: 4n, skippedInFlight: 0n, skippedSampling: 0n, inFlight: 0n },
    'only 200 and 299 succeed',
  );
  t.notOk(host.isFailed());
});
