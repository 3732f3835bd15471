// Modules other than the meshwasm filter, on both engines (the Node host's gateway and Envoy 1.40):
// a gRPC local reply (how grpc-message is percent-encoded), a trap (status and log line), and the
// filter with an invalid configuration (neither engine starts a listener; the reason is logged).
import http from 'node:http';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { EnvoyStartError } from '../envoy/index.js';
import { HostLoadError } from '../host/index.js';
import { clientGet, startBackPython, startUpstream } from './helpers/back-python.js';
import { requireComponent } from './helpers/components.js';
import { ENGINES, type EngineName, startEngine } from './helpers/engines.js';
import { PLUGIN_PATH } from './helpers/filter-host.js';
import { ProxyModuleBuilder, slot } from './helpers/wasm-fixtures.js';

function moduleFile(name: string, bytes: Uint8Array): string {
  const file = join(mkdtempSync(join(tmpdir(), 'meshwasm-engines-')), `${name}.wasm`);
  writeFileSync(file, bytes);
  return file;
}

// '%', a tab, a multi-byte character and DEL must be escaped; space, quotes and '/' must not.
const GRPC_MESSAGE = 'bad 100% \u00e9 a/b\ttab "q" \u007f';

function grpcReplyModule(): string {
  const b = new ProxyModuleBuilder();
  b.callback('proxy_on_context_create');
  b.callback(
    'proxy_on_request_headers',
    [
      {
        call: 'proxy_send_local_response',
        args: [403, b.data('denied'), b.data(GRPC_MESSAGE), b.pairs([['x-fixture', '1']]), 7],
      },
    ],
    1,
  );
  return moduleFile('grpc-reply', b.build());
}

function trapModule(): string {
  const b = new ProxyModuleBuilder();
  b.callback('proxy_on_context_create');
  b.callback('proxy_on_request_headers', [{ trap: true }], 0);
  return moduleFile('trap', b.build());
}

function post(url: string, contentType: string) {
  return new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }>(
    (resolve, reject) => {
      const rq = http.request(
        url,
        { method: 'POST', agent: false, headers: { 'content-type': contentType } },
        (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        },
      );
      rq.on('error', reject);
      rq.end('x');
    },
  );
}

async function onBoth(
  t: Parameters<Parameters<typeof t.test>[1]>[0],
  run: (t: Parameters<Parameters<typeof t.test>[1]>[0], engine: EngineName) => Promise<unknown>,
) {
  const observed: Partial<Record<EngineName, unknown>> = {};
  for (const engine of ENGINES) {
    await t.test(engine, async (t) => {
      if (engine === 'envoy' && !requireComponent(t, 'envoy')) return;
      observed[engine] = await run(t, engine);
    });
  }
  if (observed.envoy !== undefined) t.same(observed.node, observed.envoy, 'node observed what Envoy did');
}

t.test('a gRPC local reply: grpc-status, and grpc-message escaped as Envoy escapes it', async (t) => {
  const wasmPath = grpcReplyModule();
  await onBoth(t, async (t, name) => {
    const up = await startUpstream(t);
    const engine = await startEngine(t, name, { wasmPath, config: '', upstream: up.url });
    const res = await post(engine.url, 'application/grpc');
    t.equal(res.status, 200, 'gRPC errors travel in a 200');
    t.equal(res.headers['grpc-status'], '7');
    t.equal(res.headers['grpc-message'], 'bad 100%25 %C3%A9 a/b%09tab "q" %7F');
    t.equal(up.seen.length, 0);
    const { date: _, ...headers } = res.headers;
    return { status: res.status, headers, body: res.body };
  });
});

/** A module whose callout is `method` with no body and, optionally, a content-length of its own. */
function bodilessCalloutModule(method: string, contentLength?: string): string {
  const b = new ProxyModuleBuilder();
  b.callback('proxy_on_context_create');
  const headers: Array<[string, string]> = [
    [':method', method],
    [':path', '/bodiless'],
    [':authority', 'back'],
  ];
  if (contentLength !== undefined) headers.push(['content-length', contentLength]);
  b.callback(
    'proxy_on_request_headers',
    [
      {
        call: 'proxy_http_call',
        args: [b.data('back'), b.pairs(headers), b.data(''), b.data(''), 1000, slot(1)],
      },
    ],
    0,
  );
  b.callback('proxy_on_http_call_response', []);
  return moduleFile(`bodiless-${method}`, b.build());
}

t.test('a body-less callout: content-length as Envoy frames it, and the one the guest set', async (t) => {
  const cases: Array<[string, string | undefined, string | undefined]> = [
    ['POST', undefined, '0'],
    ['PUT', undefined, '0'],
    ['DELETE', undefined, undefined],
    ['GET', undefined, undefined],
    ['POST', '0', '0'],
  ];
  for (const [method, set, expected] of cases) {
    await t.test(`${method}${set === undefined ? '' : ` with content-length: ${set}`}`, async (t) => {
      const wasmPath = bodilessCalloutModule(method, set);
      await onBoth(t, async (t, name) => {
        const up = await startUpstream(t);
        const back = await startBackPython(t);
        const engine = await startEngine(t, name, {
          wasmPath,
          config: '',
          upstream: up.url,
          clusters: { back: back.url },
        });
        t.equal((await clientGet(engine.url)).status, 200);
        await back.arrived(1);
        const seen = back.seen[0]!;
        t.equal(seen.headers['content-length'], expected);
        t.equal(seen.headers['transfer-encoding'], undefined, 'never chunked');
        return {
          method: seen.method,
          cl: seen.headers['content-length'],
          te: seen.headers['transfer-encoding'],
        };
      });
    });
  }
});

t.test('a trap in on_request_headers: 503 and the same log line', async (t) => {
  const wasmPath = trapModule();
  await onBoth(t, async (t, name) => {
    const up = await startUpstream(t);
    const engine = await startEngine(t, name, { wasmPath, config: '', upstream: up.url });
    const first = await post(engine.url, 'text/plain');
    const second = await post(engine.url, 'text/plain');
    t.equal(first.status, 503, 'fail closed');
    t.equal(second.status, 503, 'the VM stays failed');
    const errors = engine.logs().filter((l) => l.level === 'error');
    t.match(errors[0]?.message, /^Function: proxy_on_request_headers failed: /);
    const { date: _, ...headers } = first.headers;
    return { status: [first.status, second.status], headers, body: first.body, errors };
  });
});

t.test('an invalid configuration: no listener, and the filter says why', async (t) => {
  await onBoth(t, async (t, name) => {
    const up = await startUpstream(t);
    const error = await startEngine(t, name, {
      wasmPath: PLUGIN_PATH,
      config: { cluster: 'c', mode: 'nope' },
      upstream: up.url,
    }).catch((e: unknown) => e);
    const text =
      error instanceof EnvoyStartError
        ? error.log.join('\n')
        : error instanceof HostLoadError
          ? error.message
          : String(error);
    t.match(text, /Failed to configure base Wasm plugin/);
    const reason = /meshwasm: invalid configuration: [^\n)]*/.exec(text)?.[0];
    t.equal(reason, 'meshwasm: invalid configuration: mode: must be "async" or "blocking"');
    return { reason };
  });
});

t.test('the host clock has sub-millisecond resolution, as Envoy reads the system clock', async (t) => {
  const { wallClockNanoseconds } = await import('../host/host.js');
  const samples = Array.from({ length: 50 }, () => wallClockNanoseconds());
  t.ok(
    samples.some((ns) => ns % 1_000_000n !== 0n),
    'not whole milliseconds',
  );
  t.ok(
    samples.every((ns, i) => i === 0 || ns >= samples[i - 1]!),
    'never goes back',
  );
  const drift = Number(samples[0]! / 1_000_000n) - Date.now();
  t.ok(Math.abs(drift) < 1000, `close to the wall clock (${drift} ms)`);
});

t.test(
  'a proxy-wasm-go-sdk module: headers, local reply, http_call, tick, shared data, metric',
  async (t) => {
    const wasmPath = requireComponent(t, 'go-sdk-module');
    if (!wasmPath) return;
    await onBoth(t, async (t, name) => {
      const up = await startUpstream(t);
      const back = await startBackPython(t);
      const engine = await startEngine(t, name, {
        wasmPath,
        config: '',
        upstream: up.url,
        clusters: { back: back.url },
      });
      await new Promise((r) => setTimeout(r, 300)); // a few ticks
      const first = await clientGet(engine.url, { 'x-who': 'alice' });
      const second = await clientGet(engine.url, { 'x-who': 'bob' });
      const denied = await clientGet(`${engine.url}/deny`);
      t.equal(first.status, 200);
      t.equal(first.headers['x-gosdk-callout'], '200 jumped', 'the http_call answer, in the callback');
      t.equal(first.headers['x-gosdk-ticked'], 'yes', 'on_tick wrote shared data');
      t.same([first.headers['x-gosdk-count'], second.headers['x-gosdk-count']], ['1', '2'], 'CAS counter');
      t.equal(denied.status, 403);
      t.equal(denied.body, 'denied by go');
      t.same(
        back.seen.map((s) => [s.method, s.url, s.headers['x-who'], s.body]),
        [
          ['POST', '/go', 'alice', 'from go'],
          ['POST', '/go', 'bob', 'from go'],
        ],
      );
      t.equal(up.seen.length, 2);
      const metrics = await engine.metrics();
      t.equal(metrics['gosdk.requests'], 3);
      const view = (r: typeof first) => {
        const { date: _d, 'x-envoy-upstream-service-time': _u, ...headers } = r.headers;
        return { status: r.status, headers, body: r.body };
      };
      const callout = back.seen.map((s) => {
        const { connection: _c, ...headers } = s.headers;
        return { method: s.method, url: s.url, headers, body: s.body };
      });
      return { first: view(first), second: view(second), denied: view(denied), callout, metrics };
    });
  },
);
