// One bad exchange fails that stream only, the way Envoy fails it, and the gateway keeps serving.
// Each expectation here is what Envoy 1.40 did with the same module bytes and the same upstream
// bytes (test/envoy-hostile-exchanges.test.ts runs the same cases through real Envoy).
import t from 'tap';
import { type LogEntry, startGateway } from '../host/index.js';
import { calloutModule, type HostileCase, hostileModule } from './helpers/hostile-modules.js';
import { rawExchange, rawUpstream, simpleGet } from './helpers/raw-http.js';
import { ProxyModuleBuilder } from './helpers/wasm-fixtures.js';

const statusLine = (raw: string) => raw.slice(0, raw.indexOf('\r\n'));
const bodyOf = (raw: string) => raw.slice(raw.indexOf('\r\n\r\n') + 4);

async function gatewayWith(
  t: Parameters<Parameters<typeof t.test>[1]>[0],
  wasm: Uint8Array,
  upstreamUrl: string,
  clusters: Record<string, string> = {},
) {
  const logs: LogEntry[] = [];
  const gw = await startGateway({
    host: { wasm, clusters, logSink: (e) => logs.push(e) },
    upstream: upstreamUrl,
  });
  t.teardown(() => gw.close());
  return { gw, logs };
}

const passThrough = () => {
  const b = new ProxyModuleBuilder();
  b.callback('proxy_on_done');
  b.callback('proxy_on_delete');
  return b.build();
};

t.test(
  'a module that breaks the response: Envoy writes it as produced, or answers 502 for a non-numeric :status',
  async (t) => {
    const up = await rawUpstream(t);
    const expected: Record<HostileCase, { line: string; header?: string; body?: string }> = {
      'status-99': { line: 'HTTP/1.1 99 Unknown', body: 'ok' },
      'status-abc': { line: 'HTTP/1.1 502 Bad Gateway', body: 'missing required header: :status' },
      'header-value-lf': { line: 'HTTP/1.1 200 OK', header: '\r\nx-bad: a\nb\r\n', body: 'ok' },
      'header-name-space': { line: 'HTTP/1.1 200 OK', header: '\r\nbad name: v\r\n', body: 'ok' },
      'local-0': { line: 'HTTP/1.1 0 Unknown', body: 'local' },
      'local-42': { line: 'HTTP/1.1 42 Unknown', body: 'local' },
      'local-99999': { line: 'HTTP/1.1 34463 Unknown', body: 'local' },
      'local-header-lf': { line: 'HTTP/1.1 403 Forbidden', header: '\r\nx-bad: a\nb\r\n', body: 'local' },
      'request-header-lf': {
        line: 'HTTP/1.1 503 Service Unavailable',
        body: 'invalid header value for: x-bad',
      },
    };
    for (const [kind, want] of Object.entries(expected) as Array<
      [HostileCase, (typeof expected)[HostileCase]]
    >) {
      const { gw } = await gatewayWith(t, hostileModule(kind), up.url);
      for (const round of [1, 2]) {
        const raw = await rawExchange(gw.url, simpleGet());
        t.equal(statusLine(raw), want.line, `${kind} (request ${round}): status line`);
        if (want.header) t.ok(raw.includes(want.header), `${kind}: header bytes as the guest set them`);
        t.equal(bodyOf(raw), want.body, `${kind}: body`);
      }
    }
  },
);

t.test('an upstream status below 100 is a protocol error (502); 600 passes through', async (t) => {
  const up = await rawUpstream(t, (path) =>
    path === '/s099'
      ? 'HTTP/1.1 099 Odd\r\ncontent-length: 2\r\n\r\nhi'
      : path === '/sabc'
        ? 'HTTP/1.1 abc Odd\r\ncontent-length: 2\r\n\r\nhi'
        : 'HTTP/1.1 600 Odd\r\ncontent-length: 2\r\n\r\nhi',
  );
  const { gw } = await gatewayWith(t, passThrough(), up.url);
  for (const path of ['/s099', '/sabc']) {
    const raw = await rawExchange(gw.url, simpleGet(path));
    t.equal(statusLine(raw), 'HTTP/1.1 502 Bad Gateway', path);
    t.equal(
      bodyOf(raw),
      'upstream connect error or disconnect/reset before headers. reset reason: protocol error',
    );
  }
  const raw = await rawExchange(gw.url, simpleGet('/s600'));
  t.equal(statusLine(raw), 'HTTP/1.1 600 Unknown');
  t.equal(bodyOf(raw), 'hi');
});

t.test('more than 100 request headers: 431 before any filter runs; 100 are fine', async (t) => {
  const up = await rawUpstream(t);
  const { gw, logs } = await gatewayWith(t, hostileModule('header-value-lf'), up.url);
  const withHeaders = (n: number) =>
    `GET / HTTP/1.1\r\n${Array.from({ length: n - 2 }, (_, i) => `x-h${i}: v\r\n`).join('')}host: x\r\nconnection: close\r\n\r\n`;
  const over = await rawExchange(gw.url, withHeaders(101));
  t.equal(statusLine(over), 'HTTP/1.1 431 Request Header Fields Too Large');
  t.equal(bodyOf(over), 'Request Header Fields Too Large');
  t.equal(up.heads.length, 0, 'nothing reached the upstream');
  const ok = await rawExchange(gw.url, withHeaders(100));
  t.equal(statusLine(ok), 'HTTP/1.1 200 OK');
  t.equal(up.heads.length, 1);
  t.ok(up.heads[0]!.includes('\r\nhost: x\r\n'), 'host is sent, not truncated away');
  t.same(
    logs.filter((e) => e.source === 'host' && e.level >= 4),
    [],
  );
});

t.test('an absolute-form target becomes :authority and :path as in Envoy', async (t) => {
  const up = await rawUpstream(t);
  const { gw } = await gatewayWith(t, passThrough(), up.url);
  const raw = await rawExchange(
    gw.url,
    'GET http://evil.example/p?q=1 HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n',
  );
  t.equal(statusLine(raw), 'HTTP/1.1 200 OK');
  t.match(up.heads[0], /^GET \/p\?q=1 HTTP\/1\.1\r\n/);
  t.match(up.heads[0], /\r\nhost: evil\.example(\r\n|$)/);
  await rawExchange(gw.url, 'GET http://evil.example HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n');
  t.match(up.heads[1], /^GET \/ HTTP\/1\.1\r\n/);
});

t.test('callouts Envoy sends as they are, and the ones its codec refuses with a 503', async (t) => {
  const rec = await rawUpstream(t);
  const up = await rawUpstream(t);
  const cases: Array<{ name: string; headers: Array<[string, string]>; sent?: RegExp; refused?: string }> = [
    {
      name: 'path with a space',
      headers: [
        [':method', 'GET'],
        [':path', '/a b'],
        [':authority', 'back'],
      ],
      sent: /^GET \/a b HTTP\/1\.1\r\nhost: back\r\n/,
    },
    {
      name: 'value with U+202E',
      headers: [
        [':method', 'GET'],
        [':path', '/jump'],
        [':authority', 'back'],
        ['x-v', 'a\u202Eb'],
      ],
      sent: /\r\nx-v: a\u202Eb\r\n/,
    },
    {
      name: 'non-ASCII authority',
      headers: [
        [':method', 'GET'],
        [':path', '/jump'],
        [':authority', 'bäck😀'],
      ],
      sent: /\r\nhost: bäck😀\r\n/,
    },
    {
      name: 'value with LF',
      headers: [
        [':method', 'GET'],
        [':path', '/jump'],
        [':authority', 'back'],
        ['x-v', 'a\nb'],
      ],
      refused: 'invalid header value for: x-v',
    },
    {
      name: 'name with a space',
      headers: [
        [':method', 'GET'],
        [':path', '/jump'],
        [':authority', 'back'],
        ['x v', '1'],
      ],
      refused: 'invalid header name: x v',
    },
    {
      name: 'path with a control character',
      headers: [
        [':method', 'GET'],
        [':path', '/a\u0001b'],
        [':authority', 'back'],
      ],
      refused: 'invalid header value for: :path',
    },
  ];
  for (const c of cases) {
    rec.heads.length = 0;
    const { gw, logs } = await gatewayWith(t, calloutModule(c.headers), up.url, { rec: rec.url });
    t.equal(
      statusLine(await rawExchange(gw.url, simpleGet())),
      'HTTP/1.1 200 OK',
      `${c.name}: the stream goes on`,
    );
    await gw.host.whenIdle();
    const said = logs.filter((e) => e.source !== 'host').map((e) => e.message);
    t.equal(said[1], '', `${c.name}: proxy_http_call returned Ok`);
    if (c.sent) {
      t.equal(rec.heads.length, 1, `${c.name}: sent`);
      t.match(rec.heads[0], c.sent);
      t.equal(said[said.indexOf('status:') + 1], '200');
    } else {
      t.equal(rec.heads.length, 0, `${c.name}: never sent`);
      t.equal(said[said.indexOf('status:') + 1], '503');
      t.equal(said[said.indexOf('body:') + 1], c.refused);
    }
  }
});
