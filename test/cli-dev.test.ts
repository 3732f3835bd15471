// `meshwasm dev`: the gateway behind a thin command, with a fixture filter module.
import http from 'node:http';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import Dev from '../cli/commands/dev.js';
import type { Gateway } from '../host/index.js';
import { listenLoopback } from './helpers/loopback.js';
import { runCommand } from './helpers/registry-fixtures.js';
import { ProxyModuleBuilder, slot } from './helpers/wasm-fixtures.js';

const repoRoot = fileURLToPath(new URL('../', import.meta.url));

/** A fixture filter: pauses for a callout to the cluster in its config ("back") and logs the outcome. */
function fixtureWasm(): string {
  const b = new ProxyModuleBuilder();
  const st = b.data(':status');
  b.callback('proxy_on_context_create');
  b.callback(
    'proxy_on_request_headers',
    [
      { storeParam: 0, at: slot(20) },
      {
        call: 'proxy_http_call',
        args: [
          b.data('back'),
          b.pairs([
            [':method', 'GET'],
            [':path', '/jump'],
            [':authority', 'back'],
          ]),
          b.data(''),
          b.data(''),
          1000,
          slot(1),
        ],
      },
    ],
    1,
  );
  b.callback('proxy_on_http_call_response', [
    { call: 'proxy_get_header_map_value', args: [6, st, slot(2), slot(3)] },
    { log: 'callout answered' },
    { call: 'proxy_set_effective_context', args: [{ load: slot(20) }] },
    { call: 'proxy_continue_stream', args: [0] },
  ]);
  const dir = mkdtempSync(join(tmpdir(), 'meshwasm-dev-'));
  const file = join(dir, 'fixture.wasm');
  writeFileSync(file, b.build());
  return file;
}

async function serve(t: { teardown(fn: () => unknown): void }, body: string) {
  const hits: string[] = [];
  const { url } = await listenLoopback(t, (rq, rs) => {
    hits.push(rq.url ?? '');
    rs.end(body);
  });
  return { url, hits };
}

function get(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent: false }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });
}

t.test(
  'dev serves requests through the filter and resolves the configured cluster with --callout',
  async (t) => {
    const upstream = await serve(t, 'from upstream');
    const back = await serve(t, 'jumped');
    const wasm = fixtureWasm();
    let stdout = '';
    let stderr = '';
    const write = { out: process.stdout.write, err: process.stderr.write };
    process.stdout.write = ((c: string | Uint8Array) => (
      (stdout += c.toString()),
      true
    )) as typeof process.stdout.write;
    process.stderr.write = ((c: string | Uint8Array) => (
      (stderr += c.toString()),
      true
    )) as typeof process.stderr.write;
    let gw: Gateway;
    try {
      gw = (await Dev.run(
        [
          '--wasm',
          wasm,
          '--upstream',
          upstream.url,
          '--callout',
          back.url,
          '--config',
          '{"cluster":"back"}',
          '--port',
          '0',
        ],
        repoRoot,
      )) as Gateway;
    } finally {
      process.stdout.write = write.out;
      process.stderr.write = write.err;
    }
    t.teardown(() => gw.close());
    t.equal(stdout, `${gw.url}\n`, 'stdout carries only the URL');
    t.match(stderr, /meshwasm dev: http:\/\/127\.0\.0\.1:\d+ -> http:\/\/127\.0\.0\.1:\d+/);
    const res = await get(`${gw.url}/hello`);
    t.equal(res.status, 200);
    t.equal(res.body, 'from upstream');
    t.same(back.hits, ['/jump']);
    t.same(upstream.hits, ['/hello']);
    t.ok(gw.host.getLogs().some((l) => l.message === 'callout answered'));
  },
);

t.test('bad input is a usage error naming the flag', async (t) => {
  const wasm = fixtureWasm();
  const missing = await runCommand(Dev, [
    '--wasm',
    '/nonexistent/plugin.wasm',
    '--upstream',
    'http://127.0.0.1:1',
  ]);
  t.equal(missing.exitCode, 2);
  t.match(missing.stderr, /--wasm: \/nonexistent\/plugin\.wasm cannot be read; build the filter/);
  t.equal(missing.stdout, '');
  const badJson = await runCommand(Dev, [
    '--wasm',
    wasm,
    '--upstream',
    'http://127.0.0.1:1',
    '--config',
    '{nope',
  ]);
  t.equal(badJson.exitCode, 2);
  t.match(badJson.stderr, /--config: not valid JSON/);
  const badField = await runCommand(Dev, [
    '--wasm',
    wasm,
    '--upstream',
    'http://127.0.0.1:1',
    '--config',
    '{"cluster":""}',
  ]);
  t.equal(badField.exitCode, 2);
  t.match(badField.stderr, /--config: cluster: /);
  const noCluster = await runCommand(Dev, [
    '--wasm',
    wasm,
    '--upstream',
    'http://127.0.0.1:1',
    '--callout',
    'http://127.0.0.1:2',
  ]);
  t.equal(noCluster.exitCode, 2);
  t.match(noCluster.stderr, /--callout: the configuration has no `cluster`/);
  const badCluster = await runCommand(Dev, [
    '--wasm',
    wasm,
    '--upstream',
    'http://127.0.0.1:1',
    '--cluster',
    'justaname',
  ]);
  t.equal(badCluster.exitCode, 2);
  t.match(badCluster.stderr, /--cluster: 'justaname' is not NAME=URL/);
  const notWasm = join(mkdtempSync(join(tmpdir(), 'meshwasm-dev-')), 'x.wasm');
  writeFileSync(notWasm, 'hello');
  const corrupt = await runCommand(Dev, [
    '--wasm',
    notWasm,
    '--upstream',
    'http://127.0.0.1:1',
    '--port',
    '0',
  ]);
  t.equal(corrupt.exitCode, 2);
  t.match(corrupt.stderr, /x\.wasm: Failed to parse corrupted Wasm module/);
});
