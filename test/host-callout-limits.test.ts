// What Envoy bounds around callouts, in the host: the cluster circuit breaker (1024 requests in
// flight, the excess failing at once and counted), the async client's 32 MiB response buffer, and
// a callout history bounded by count and bytes.
import http from 'node:http';
import t from 'tap';
import {
  CALLOUT_RESPONSE_BUFFER_LIMIT,
  HISTORY_BYTES,
  MAX_REQUESTS_PER_CLUSTER,
  ProxyWasmHost,
  startGateway,
} from '../host/index.js';
import { calloutModule, calloutsModule } from './helpers/hostile-modules.js';
import { listenLoopback } from './helpers/loopback.js';
import { rawExchange, simpleGet } from './helpers/raw-http.js';

const GET: Array<[string, string]> = [
  [':method', 'GET'],
  [':path', '/jump'],
  [':authority', 'back'],
];

/** The guest's log lines (the host's own entries left out). */
const guestLines = (host: ProxyWasmHost) =>
  host
    .getLogs()
    .filter((e) => e.source !== 'host')
    .map((e) => e.message);

t.test(
  'the circuit breaker: max_requests in flight per cluster, the rest fail at once and are counted',
  async (t) => {
    const held: http.ServerResponse[] = [];
    const rec = await listenLoopback(t, (_rq, rs) => held.push(rs));
    const up = await listenLoopback(t, (_rq, rs) => rs.end('up'));
    // Envoy's default is 1024; a smaller threshold (as circuit_breakers can set) keeps the test cheap.
    const limit = 16;
    const extra = 6;
    const gw = await startGateway({
      host: {
        wasm: calloutsModule(Array.from({ length: limit + extra }, () => GET)),
        clusters: { rec: rec.url },
        maxRequestsPerCluster: limit,
        trace: false,
      },
      upstream: up.url,
    });
    t.teardown(() => gw.close());
    t.equal(MAX_REQUESTS_PER_CLUSTER, 1024, "Envoy's default max_requests");
    t.match(await rawExchange(gw.url, simpleGet()), /^HTTP\/1\.1 200 /, 'async: the stream goes on');
    // No idle connection to attach to: every call returns Ok, the excess gets the router's 503 later.
    const results = guestLines(gw.host).filter((_, i, all) => all[i - 1] === 'call result:');
    t.equal(results.filter((r) => r === '').length, limit + extra);
    while (held.length < limit) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 100));
    t.equal(held.length, limit, 'only max_requests reach the cluster');
    t.equal(gw.host.getClusterOverflows('rec'), extra, 'upstream_rq_active_overflow');
    const lines = guestLines(gw.host);
    const bodies = lines.filter((_, i) => lines[i - 1] === 'body:');
    t.same(
      bodies,
      Array(extra).fill('upstream connect error or disconnect/reset before headers. reset reason: overflow'),
    );
    t.equal(
      lines.filter((l, i) => lines[i - 1] === 'callout response' && l === '####').length,
      extra,
      'x-envoy-overloaded is the 4th header',
    );
    for (const rs of held) rs.end('late');
    await gw.host.whenIdle();
    t.equal(gw.host.getHttpCallouts({ pending: true }).length, 0, 'all delivered once the cluster answers');
  },
);

t.test(
  'with an idle connection, a refused callout completes inside proxy_http_call: InternalFailure, no callback',
  async (t) => {
    const rec = await listenLoopback(t, (_rq, rs) => rs.end('ok'));
    const up = await listenLoopback(t, (_rq, rs) => rs.end('up'));
    const lf: Array<[string, string]> = [...GET, ['x-v', 'a\nb']];
    const gw = await startGateway({
      host: { wasm: calloutModule(lf, GET), clusters: { rec: rec.url } },
      upstream: up.url,
    });
    t.teardown(() => gw.close());
    await rawExchange(gw.url, simpleGet());
    await gw.host.whenIdle();
    const first = guestLines(gw.host);
    t.equal(first[1], '', 'no idle connection yet: Ok');
    t.ok(first.includes('invalid header value for: x-v'), '... and the 503 arrives in the callback');
    await rawExchange(gw.url, simpleGet());
    await gw.host.whenIdle();
    const second = guestLines(gw.host).slice(first.length);
    t.equal(second[1], '#'.repeat(10), 'idle connection: InternalFailure (10)');
    t.notOk(second.includes('invalid header value for: x-v'), 'and no callback for it');
  },
);

t.test(
  "a callout response over the async client's 32 MiB limit is a reset; at the limit it is delivered",
  async (t) => {
    let size = CALLOUT_RESPONSE_BUFFER_LIMIT + 1;
    const chunk = Buffer.alloc(1024 * 1024, 97);
    const rec = await listenLoopback(t, (_rq, rs) => {
      rs.writeHead(200, { 'content-length': String(size) });
      let left = size;
      const more = () => {
        while (left > 0) {
          const piece = chunk.subarray(0, Math.min(left, chunk.length));
          left -= piece.length;
          if (!rs.write(piece)) return void rs.once('drain', more);
        }
        rs.end();
      };
      more();
    });
    const up = await listenLoopback(t, (_rq, rs) => rs.end('up'));
    t.equal(CALLOUT_RESPONSE_BUFFER_LIMIT, 32 * 1024 * 1024);
    const gw = await startGateway({
      host: { wasm: calloutModule(GET), clusters: { rec: rec.url }, trace: false },
      upstream: up.url,
    });
    t.teardown(() => gw.close());
    await rawExchange(gw.url, simpleGet());
    await gw.host.whenIdle();
    let lines = guestLines(gw.host);
    t.equal(lines[lines.indexOf('callout response') + 1], '', 'over the limit: a failure (no headers)');
    size = CALLOUT_RESPONSE_BUFFER_LIMIT;
    await rawExchange(gw.url, simpleGet());
    await gw.host.whenIdle();
    lines = guestLines(gw.host);
    t.equal(lines[lines.lastIndexOf('status:') + 1], '200', 'exactly at the limit: delivered');
  },
);

t.test('the callout history stays under its byte bound whatever the count', async (t) => {
  const body = 'b'.repeat(48 * 1024);
  const host = await ProxyWasmHost.start({
    wasm: calloutsModule([GET], body),
    clusters: { rec: 'manual' },
    logSink: () => undefined,
  });
  t.teardown(() => host.shutdown());
  for (let i = 0; i < 600; i++) {
    const id = host.initializeHttpContext();
    host.callOnRequestHeaders(id, GET, true);
    const [c] = host.getHttpCallouts({ pending: true });
    host.respondToHttpCall(c!.token, { headers: [[':status', '200']] });
    host.completeHttpContext(id);
  }
  const kept = host.getHttpCallouts();
  t.ok(
    kept.length * body.length <= HISTORY_BYTES,
    `${kept.length} callouts kept, within ${HISTORY_BYTES} bytes`,
  );
  t.ok(kept.length > 100, 'and the recent ones are still there');
  t.equal(kept.at(-1)!.body.length, body.length);
});
