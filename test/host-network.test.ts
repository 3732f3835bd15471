// http_call over real loopback HTTP: the outcomes Envoy's async client and router report.
import http from 'node:http';
import t from 'tap';
import {
  CONNECTION_TERMINATION_BODY,
  CONNECT_FAILURE_BODY,
  ProxyWasmHost,
  UPSTREAM_TIMEOUT_BODY,
  WasmResult,
  decodePairs,
} from '../host/index.js';
import { listenLoopback } from './helpers/loopback.js';
import { calloutProbeModule, readBytes, readU32, slot, slotText } from './helpers/wasm-fixtures.js';

const req: Array<[string, string]> = [
  [':authority', 'front'],
  [':path', '/'],
  [':method', 'GET'],
];

const listen = (handler: http.RequestListener) => listenLoopback(t, handler);

/** Runs one request through the probe module against `url` and returns what the guest saw. */
async function callout(url: string, timeoutMs = 1000) {
  const host = await ProxyWasmHost.start({
    wasm: calloutProbeModule([], timeoutMs),
    clusters: { back: url },
  });
  const mem = host.exports.memory as WebAssembly.Memory;
  const id = host.initializeHttpContext();
  host.callOnRequestHeaders(id, req, true);
  t.equal(host.getStreamState(id).requestStopped, true, 'stream waits for the callout');
  await host.whenIdle();
  const trace = host.getVmCallTrace().filter((c) => c.fn === 'proxy_on_http_call_response');
  const seen = {
    args: trace[0]?.args,
    status: readU32(mem, slot(5)) === WasmResult.Ok ? slotText(mem, 6, 7) : undefined,
    statusResult: readU32(mem, slot(5)),
    headers: decodePairs(readBytes(mem, readU32(mem, slot(9)), readU32(mem, slot(10)))),
    bodyResult: readU32(mem, slot(11)),
    body: readU32(mem, slot(11)) === WasmResult.Ok ? slotText(mem, 12, 13) : undefined,
    statusCode: readU32(mem, slot(15)),
    statusMessage: slotText(mem, 16, 17),
    continued: host.getStreamState(id).continuedRequest,
  };
  host.shutdown();
  return seen;
}

t.test('an upstream answer (any status) is a success with its headers and body', async (t) => {
  const got: Array<{ method?: string; url?: string; headers: http.IncomingHttpHeaders }> = [];
  const { url } = await listen((rq, rs) => {
    got.push({ method: rq.method, url: rq.url, headers: rq.headers });
    rs.writeHead(rq.url === '/jump' ? 500 : 404, { 'X-Reply': 'yes' }).end('oops');
  });
  const seen = await callout(url);
  t.same(seen.args?.slice(0, 2), [1, 4], 'root context, token 4');
  t.equal(seen.status, '500');
  t.equal(seen.body, 'oops');
  t.same(seen.headers[0], [':status', '500']);
  t.ok(
    seen.headers.some(([k, v]) => k === 'x-reply' && v === 'yes'),
    'upstream headers, lower-cased',
  );
  t.ok(seen.headers.some(([k]) => k === 'x-envoy-upstream-service-time'));
  t.equal(seen.statusCode, 0);
  t.ok(seen.continued);
  t.equal(got.length, 1);
  t.equal(got[0]!.method, 'GET');
  t.equal(got[0]!.url, '/jump');
  t.equal(got[0]!.headers.host, 'back-python', ':authority becomes Host');
  t.equal(got[0]!.headers['x-request-id'], 'r1');
  t.equal(got[0]!.headers['x-envoy-internal'], 'true');
  t.equal(got[0]!.headers['x-envoy-expected-rq-timeout-ms'], '1000');
  t.notOk(got[0]!.headers['x-forwarded-for'], 'send_xff = false');
});

t.test("connect failure: the router's 503 reply", async (t) => {
  const { url, server } = await listen(() => undefined);
  await new Promise<void>((r) => server.close(() => r()));
  const seen = await callout(url);
  t.equal(seen.status, '503');
  t.equal(seen.body, CONNECT_FAILURE_BODY);
  t.equal(
    CONNECT_FAILURE_BODY,
    'upstream connect error or disconnect/reset before headers. reset reason: connection failure',
  );
  t.same(seen.headers, [
    [':status', '503'],
    ['content-length', String(CONNECT_FAILURE_BODY.length)],
    ['content-type', 'text/plain'],
  ]);
  t.equal(seen.statusCode, 0, 'a success, not a reset');
});

t.test("slower than the timeout: the router's 504 reply", async (t) => {
  const { url } = await listen((_rq, rs) => {
    const timer = setTimeout(() => rs.end('late'), 2000);
    rs.on('close', () => clearTimeout(timer));
  });
  const started = Date.now();
  const seen = await callout(url, 150);
  t.ok(Date.now() - started < 1500, 'delivered at the timeout, not when the upstream answers');
  t.equal(seen.status, '504');
  t.equal(seen.body, UPSTREAM_TIMEOUT_BODY);
});

t.test('connection closed before response headers: 503 connection termination', async (t) => {
  const { url } = await listen((rq) => rq.socket.destroy());
  const seen = await callout(url);
  t.equal(seen.status, '503');
  t.equal(seen.body, CONNECTION_TERMINATION_BODY);
});

t.test(
  'reset in the middle of the response: (root, token, 0, 0, 0) and get_status (11, "reset")',
  async (t) => {
    const { url } = await listen((_rq, rs) => {
      rs.writeHead(200, { 'content-length': '100' });
      rs.write('partial', () => setTimeout(() => rs.socket?.destroy(), 20));
    });
    const seen = await callout(url);
    t.same(seen.args, [1, 4, 0, 0, 0]);
    t.equal(seen.statusResult, WasmResult.BadArgument, 'no response headers map');
    t.equal(seen.bodyResult, WasmResult.NotFound, 'no body');
    t.same(seen.headers, []);
    t.equal(seen.statusCode, WasmResult.BrokenConnection);
    t.equal(seen.statusMessage, 'reset');
    t.ok(seen.continued, 'the filter still resumed the stream');
  },
);

t.test('timeout 0 means no timeout; shutdown cancels without a callback', async (t) => {
  let arrived!: () => void;
  const gotRequest = new Promise<void>((r) => {
    arrived = r;
  });
  const { url } = await listen(() => arrived());
  const host = await ProxyWasmHost.start({ wasm: calloutProbeModule([], 0), clusters: { back: url } });
  const id = host.initializeHttpContext();
  host.callOnRequestHeaders(id, req, true);
  t.same(host.getHttpCallouts()[0]?.timeoutMs, 0);
  await gotRequest;
  await new Promise((r) => setTimeout(r, 100));
  t.equal(host.getHttpCallouts({ pending: true }).length, 1, 'still pending, no timeout');
  host.clearVmCallTrace();
  host.shutdown();
  await host.whenIdle();
  t.notOk(host.getVmCallTrace().some((c) => c.fn === 'proxy_on_http_call_response'));
});

t.test('a manual answer overrides a pending network call', async (t) => {
  const { url } = await listen(() => undefined);
  const host = await ProxyWasmHost.start({ wasm: calloutProbeModule(), clusters: { back: url } });
  const mem = host.exports.memory as WebAssembly.Memory;
  host.callOnRequestHeaders(host.initializeHttpContext(), req, true);
  host.respondToHttpCall(4, { headers: [[':status', '204']] });
  t.equal(slotText(mem, 6, 7), '204');
  await host.whenIdle();
  host.shutdown();
});
