// The loopback gateway end to end: real client, real upstream, real callout server, a fixture
// filter that pauses each request for a callout and edits headers on both directions.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import t from 'tap';
import { CONNECT_FAILURE_BODY, ProxyWasmHost, startGateway } from '../host/index.js';
import { listenLoopback } from './helpers/loopback.js';
import { ProxyModuleBuilder, type Step, slot } from './helpers/wasm-fixtures.js';

interface Seen {
  method?: string;
  url?: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

async function server(
  t: { teardown(fn: () => unknown): void },
  reply: (rq: http.IncomingMessage, rs: http.ServerResponse, body: string) => void,
) {
  const seen: Seen[] = [];
  const { url } = await listenLoopback(t, (rq, rs) => {
    const chunks: Buffer[] = [];
    rq.on('data', (c: Buffer) => chunks.push(c));
    rq.on('end', () => {
      const body = Buffer.concat(chunks).toString();
      seen.push({ method: rq.method, url: rq.url, headers: rq.headers, body });
      reply(rq, rs, body);
    });
  });
  return { url, seen };
}

function request(
  url: string,
  opts: { method?: string; headers?: Record<string, string>; body?: string } = {},
) {
  return new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }>(
    (resolve, reject) => {
      const r = http.request(
        url,
        { method: opts.method ?? 'GET', headers: opts.headers, agent: false },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              headers: res.headers,
              body: Buffer.concat(chunks).toString(),
            }),
          );
          res.on('error', reject);
        },
      );
      r.on('error', reject);
      r.end(opts.body);
    },
  );
}

/** A filter that adds x-filter, pauses for a callout to cluster "back", then runs `onReply` and resumes. */
function pausingFilter(onReply: (b: ProxyModuleBuilder) => Step[] = () => []) {
  const b = new ProxyModuleBuilder();
  const xFilter = b.data('x-filter');
  const one = b.data('1');
  b.callback('proxy_on_context_create');
  b.callback(
    'proxy_on_request_headers',
    [
      { storeParam: 0, at: slot(20) },
      { call: 'proxy_add_header_map_value', args: [0, xFilter, one] },
      {
        call: 'proxy_http_call',
        args: [
          b.data('back'),
          b.pairs([
            [':method', 'GET'],
            [':path', '/jump'],
            [':authority', 'back-python'],
          ]),
          b.data(''),
          b.data(''),
          2000,
          slot(1),
        ],
      },
    ],
    1,
  );
  b.callback('proxy_on_http_call_response', [
    { call: 'proxy_set_effective_context', args: [{ load: slot(20) }] },
    { call: 'proxy_add_header_map_value', args: [0, b.data('x-callout'), one] },
    ...onReply(b),
    { call: 'proxy_continue_stream', args: [0] },
  ]);
  b.callback('proxy_on_response_headers', [
    { call: 'proxy_add_header_map_value', args: [2, b.data('x-resp-filter'), b.data('yes')] },
  ]);
  for (const cb of [
    'proxy_on_request_body',
    'proxy_on_response_body',
    'proxy_on_log',
    'proxy_on_done',
    'proxy_on_delete',
  ])
    b.callback(cb);
  return b.build();
}

t.test(
  'a request goes through the filter, waits for the callout, reaches the upstream and comes back',
  async (t) => {
    const upstream = await server(t, (_rq, rs, body) =>
      rs.writeHead(200, { 'x-up': '1' }).end(`echo:${body}`),
    );
    const back = await server(t, (_rq, rs) => rs.end('jumped'));
    const gw = await startGateway({
      host: { wasm: pausingFilter(), clusters: { back: back.url } },
      upstream: upstream.url,
    });
    t.teardown(() => gw.close());
    t.match(gw.url, /^http:\/\/127\.0\.0\.1:\d+$/);

    const res = await request(`${gw.url}/api?q=1`, {
      method: 'POST',
      body: 'payload',
      headers: { 'x-request-id': 'rid-1', 'content-type': 'text/plain' },
    });
    t.equal(res.status, 200);
    t.equal(res.body, 'echo:payload', 'the body buffered during the pause reached the upstream');
    t.equal(res.headers['x-resp-filter'], 'yes');
    t.equal(res.headers['x-up'], '1');
    t.equal(back.seen.length, 1);
    t.equal(back.seen[0]!.url, '/jump');
    t.equal(upstream.seen.length, 1);
    const up = upstream.seen[0]!;
    t.equal(up.method, 'POST');
    t.equal(up.url, '/api?q=1');
    t.equal(up.headers['x-filter'], '1');
    t.equal(up.headers['x-callout'], '1', 'header added from the callout callback, before continue');
    t.equal(up.headers['x-request-id'], 'rid-1', 'client request id kept');
    t.equal(up.headers['x-forwarded-proto'], 'http');
    t.match(up.headers.host, /^127\.0\.0\.1:\d+$/);

    const res2 = await request(`${gw.url}/second`);
    t.equal(res2.status, 200);
    t.match(
      upstream.seen[1]!.headers['x-request-id'],
      /^[0-9a-f-]{36}$/,
      'x-request-id generated like the HCM',
    );
    await new Promise((r) => setTimeout(r, 20));
    const order = gw.host
      .getVmCallTrace()
      .filter((c) => c.args[0] === 3)
      .map((c) => c.fn);
    t.same(order, [
      'proxy_on_context_create',
      'proxy_on_request_headers',
      'proxy_on_response_headers',
      'proxy_on_response_body',
      'proxy_on_log',
      'proxy_on_done',
      'proxy_on_delete',
    ]);
  },
);

t.test(
  'a local reply from the callout callback is what the client gets; the upstream is never called',
  async (t) => {
    const upstream = await server(t, (_rq, rs) => rs.end('should not happen'));
    const back = await server(t, (_rq, rs) => rs.writeHead(500).end());
    const wasm = pausingFilter((b) => [
      {
        call: 'proxy_send_local_response',
        args: [429, b.data('too many'), b.data('slow down'), b.pairs([['retry-after', '1']]), -1],
      },
    ]);
    const gw = await startGateway({ host: { wasm, clusters: { back: back.url } }, upstream: upstream.url });
    t.teardown(() => gw.close());
    const res = await request(`${gw.url}/x`);
    t.equal(res.status, 429);
    t.equal(res.body, 'slow down');
    t.equal(res.headers['retry-after'], '1');
    t.equal(res.headers['content-type'], 'text/plain');
    t.equal(res.headers['x-resp-filter'], 'yes', 'the local reply went through on_response_headers');
    t.equal(upstream.seen.length, 0);
  },
);

t.test('a trap fails closed with 503 wasm_fail_stream, or passes through with fail-open', async (t) => {
  const upstream = await server(t, (_rq, rs) => rs.end('upstream'));
  const wasm = new ProxyModuleBuilder()
    .callback('proxy_on_context_create')
    .callback('proxy_on_request_headers', [{ trap: true }])
    .build();
  const closed = await startGateway({ host: { wasm }, upstream: upstream.url });
  t.teardown(() => closed.close());
  for (let i = 0; i < 2; i++) {
    const res = await request(`${closed.url}/`);
    t.equal(res.status, 503);
    t.equal(res.body, '');
  }
  t.ok(closed.host.isFailed());
  t.equal(upstream.seen.length, 0);

  const host = await ProxyWasmHost.start({ wasm, failOpen: true });
  const open = await startGateway({ host, upstream: upstream.url });
  t.teardown(async () => {
    await open.close();
    host.shutdown();
  });
  for (let i = 0; i < 2; i++) {
    const res = await request(`${open.url}/`);
    t.equal(res.status, 200, 'fail-open: Continue even for the request that trapped');
    t.equal(res.body, 'upstream');
  }
  t.ok(host.isFailed());
});

t.test("an unreachable upstream gives the router's 503 through the filter", async (t) => {
  const dead = await server(t, () => undefined);
  const gone = http.createServer();
  await new Promise<void>((r) => gone.listen(0, '127.0.0.1', r));
  const port = (gone.address() as AddressInfo).port;
  await new Promise<void>((r) => gone.close(() => r()));
  const wasm = pausingFilter();
  const gw = await startGateway({
    host: { wasm, clusters: { back: dead.url } },
    upstream: `http://127.0.0.1:${port}`,
  });
  t.teardown(() => gw.close());
  // the callout server never answers: answer the callout by hand so the request continues
  const pending = request(`${gw.url}/`);
  while (gw.host.getHttpCallouts({ pending: true }).length === 0) await new Promise((r) => setTimeout(r, 5));
  gw.host.respondToHttpCall(gw.host.getHttpCallouts({ pending: true })[0]!.token, {
    headers: [[':status', '200']],
  });
  const res = await pending;
  t.equal(res.status, 503);
  t.equal(res.body, CONNECT_FAILURE_BODY);
  t.equal(res.headers['x-resp-filter'], 'yes');
});
