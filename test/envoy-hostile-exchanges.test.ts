// The referee for host-hostile-exchanges.test.ts: the same module bytes and the same upstream bytes
// through real Envoy 1.40 and through meshwasm's gateway must give the same status line, body and
// hostile header bytes, and the same callouts on the wire.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { type LogEntry, startGateway } from '../host/index.js';
import { requireComponent } from './helpers/components.js';
import { httpListener, startEnvoy, staticCluster, wasmFilter } from './helpers/envoy.js';
import { calloutModule, type HostileCase, hostileModule } from './helpers/hostile-modules.js';
import { rawExchange, rawUpstream, simpleGet } from './helpers/raw-http.js';
import { freePort } from './helpers/registry.js';
import { ProxyModuleBuilder } from './helpers/wasm-fixtures.js';

const envoyBin = requireComponent(t, 'envoy');

/** What must agree: the status line, the body, and any header line the guest made hostile. */
function outcome(raw: string) {
  const head = raw.slice(0, raw.indexOf('\r\n\r\n'));
  return {
    line: head.slice(0, head.indexOf('\r\n')),
    hostile: head.split('\r\n').filter((l) => /^(x-bad|bad name):/.test(l)),
    body: raw.slice(raw.indexOf('\r\n\r\n') + 4),
  };
}

const passThrough = () => {
  const b = new ProxyModuleBuilder();
  b.callback('proxy_on_done');
  return b.build();
};

const hostile: HostileCase[] = [
  'status-99',
  'status-abc',
  'header-value-lf',
  'header-name-space',
  'local-0',
  'local-42',
  'local-99999',
  'local-header-lf',
  'request-header-lf',
];

const callouts: Record<string, Array<[string, string]>> = {
  'path-space': [
    [':method', 'GET'],
    [':path', '/a b'],
    [':authority', 'back'],
  ],
  'value-rlo': [
    [':method', 'GET'],
    [':path', '/jump'],
    [':authority', 'back'],
    ['x-v', 'a\u202Eb'],
  ],
  'authority-utf8': [
    [':method', 'GET'],
    [':path', '/jump'],
    [':authority', 'bäck😀'],
  ],
  'value-lf': [
    [':method', 'GET'],
    [':path', '/jump'],
    [':authority', 'back'],
    ['x-v', 'a\nb'],
  ],
  'name-space': [
    [':method', 'GET'],
    [':path', '/jump'],
    [':authority', 'back'],
    ['x v', '1'],
  ],
  'path-ctl': [
    [':method', 'GET'],
    [':path', '/a\u0001b'],
    [':authority', 'back'],
  ],
};

const plainRequests: Record<string, string> = {
  'upstream 099': simpleGet('/s099'),
  'upstream abc': simpleGet('/sabc'),
  'upstream 600': simpleGet('/s600'),
  '101 headers': `GET / HTTP/1.1\r\n${Array.from({ length: 99 }, (_, i) => `x-h${i}: v\r\n`).join('')}host: x\r\nconnection: close\r\n\r\n`,
  '100 headers': `GET / HTTP/1.1\r\n${Array.from({ length: 98 }, (_, i) => `x-h${i}: v\r\n`).join('')}host: x\r\nconnection: close\r\n\r\n`,
  'absolute-form': 'GET http://evil.example/p?q=1 HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n',
};

/** The upstream's request line and Host, as the two proxies sent them. */
const requestShape = (head: string | undefined) =>
  (head ?? '').split('\r\n').filter((l, i) => i === 0 || /^(host|x-v):/.test(l));

t.test('Envoy and the host gateway fail the same exchanges the same way', { skip: !envoyBin }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'meshwasm-hostile-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const upstream = await rawUpstream(t, (path) =>
    path === '/s099'
      ? 'HTTP/1.1 099 Odd\r\ncontent-length: 2\r\n\r\nhi'
      : path === '/sabc'
        ? 'HTTP/1.1 abc Odd\r\ncontent-length: 2\r\n\r\nhi'
        : path === '/s600'
          ? 'HTTP/1.1 600 Odd\r\ncontent-length: 2\r\n\r\nhi'
          : 'HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok',
  );
  // The callout server closes each connection, so neither proxy has an idle one: a refused callout
  // then gets its 503 in on_http_call_response in both (with one, both return InternalFailure).
  const rec = await rawUpstream(t, undefined, { close: true });
  const modules: Record<string, Uint8Array> = { plain: passThrough() };
  for (const c of hostile) modules[c] = hostileModule(c);
  for (const [c, h] of Object.entries(callouts)) modules[c] = calloutModule(h);

  const ports: Record<string, number> = {};
  const listeners: object[] = [];
  for (const [name, wasm] of Object.entries(modules)) {
    const file = join(dir, `${name}.wasm`);
    await writeFile(file, wasm);
    ports[name] = await freePort();
    listeners.push(httpListener(name, ports[name], 'up', name === 'plain' ? [] : [wasmFilter(name, file)]));
  }
  const envoy = await startEnvoy(
    t,
    envoyBin!,
    {
      admin: { address: { socket_address: { address: '127.0.0.1', port_value: await freePort() } } },
      static_resources: {
        listeners,
        clusters: [staticCluster('up', upstream.port), staticCluster('rec', rec.port)],
      },
    },
    Object.values(ports),
  );
  const gateway = async (name: string) => {
    const logs: LogEntry[] = [];
    const gw = await startGateway({
      host: { wasm: modules[name]!, clusters: { rec: rec.url }, logSink: (e) => logs.push(e) },
      upstream: upstream.url,
    });
    t.teardown(() => gw.close());
    return { gw, logs };
  };

  const plain = await gateway('plain');
  for (const [what, request] of Object.entries(plainRequests)) {
    upstream.heads.length = 0;
    const viaEnvoy = outcome(await rawExchange(`http://127.0.0.1:${ports.plain}`, request));
    const envoySent = requestShape(upstream.heads[0]);
    upstream.heads.length = 0;
    const viaHost = outcome(await rawExchange(plain.gw.url, request));
    t.same(viaHost, viaEnvoy, `${what}: same reply`);
    t.same(requestShape(upstream.heads[0]), envoySent, `${what}: same upstream request line and host`);
  }

  for (const c of hostile) {
    const viaEnvoy = outcome(await rawExchange(`http://127.0.0.1:${ports[c]}`, simpleGet()));
    const { gw } = await gateway(c);
    t.same(outcome(await rawExchange(gw.url, simpleGet())), viaEnvoy, `${c}: same reply`);
  }

  // Envoy's wasm log lines read "wasm log NAME[ VM]: message".
  const envoyLogs = (name: string) =>
    envoy
      .log()
      .split('\n')
      .map((l) => /wasm log ([^ :]+)[^:]*: (.*)$/.exec(l))
      .filter((m) => m?.[1] === name)
      .map((m) => m![2]!);
  for (const c of Object.keys(callouts)) {
    rec.heads.length = 0;
    await rawExchange(`http://127.0.0.1:${ports[c]}`, simpleGet());
    const deadline = Date.now() + 5000;
    while (!envoyLogs(c).includes('body:') && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
    const envoySent = rec.heads.map(requestShape);
    rec.heads.length = 0;
    const { gw, logs } = await gateway(c);
    await rawExchange(gw.url, simpleGet());
    await gw.host.whenIdle();
    t.same(rec.heads.map(requestShape), envoySent, `${c}: the same callout on the wire (or none)`);
    t.same(
      logs.filter((e) => e.source !== 'host').map((e) => e.message),
      envoyLogs(c).slice(0, 8),
      `${c}: the guest saw the same result, status and body`,
    );
  }
});
