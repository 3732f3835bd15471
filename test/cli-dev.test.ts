// `meshwasm dev` on both engines (the Node host and real Envoy): the values model as render builds
// it, the reference cluster mapped to a local back-python, the access log and summary on stderr,
// and bad input as one-line usage errors (exit 2, nothing on stdout, credentials never echoed).
import { spawn } from 'node:child_process';
import http from 'node:http';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import Dev from '../cli/commands/dev.js';
import { parseListen, redactUrl } from '../cli/lib/dev-options.js';
import type { DevSession } from '../cli/lib/dev-run.js';
import { percentile } from '../cli/lib/dev-traffic.js';
import { clientGet, refusingUrl, startBackPython } from './helpers/back-python.js';
import { envForSignalledChild } from './helpers/child-env.js';
import { requireComponent } from './helpers/components.js';
import { ENGINES } from './helpers/engines.js';
import { CLUSTER, CLUSTER_HOST } from './helpers/filter-host.js';
import { runCommand } from './helpers/registry-fixtures.js';
import { ProxyModuleBuilder, slot } from './helpers/wasm-fixtures.js';

type Test = Parameters<Parameters<typeof t.test>[1]>[0];
const repoRoot = fileURLToPath(new URL('../', import.meta.url));

/** Runs dev in this process; stderr is captured (and kept) until teardown. */
async function dev(t: Test, argv: string[]) {
  let stdout = '';
  let stderr = '';
  const write = { out: process.stdout.write, err: process.stderr.write };
  process.stderr.write = ((c: string | Uint8Array) => (
    (stderr += c.toString()),
    true
  )) as typeof process.stderr.write;
  process.stdout.write = ((c: string | Uint8Array) => (
    (stdout += c.toString()),
    true
  )) as typeof process.stdout.write;
  let session: DevSession;
  try {
    session = (await Dev.run(['--listen', '127.0.0.1:0', ...argv], repoRoot)) as DevSession;
  } finally {
    process.stdout.write = write.out;
  }
  t.teardown(async () => {
    await session.stop();
    process.stderr.write = write.err;
  });
  return { session, stdout, stderr: () => stderr };
}

async function waitFor(what: () => boolean, ms = 5000) {
  for (let i = 0; i < ms / 20 && !what(); i++) await new Promise((r) => setTimeout(r, 20));
}

function post(url: string, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const rq = http.request(url, { method: 'POST', agent: false }, (r) => {
      r.resume();
      r.on('end', () => resolve(r.statusCode ?? 0));
    });
    rq.on('error', reject);
    rq.end(body);
  });
}

for (const engine of ENGINES) {
  t.test(`--engine ${engine}`, async (t) => {
    if (engine === 'envoy' && !requireComponent(t, 'envoy')) return;

    await t.test('20 requests: 20 answers of 200, exactly 20 callouts, and the access log', async (t) => {
      const upstream = await startBackPython(t, () => ({ body: 'from back-golang' }));
      const back = await startBackPython(t);
      const run = await dev(t, [
        '--engine',
        engine,
        '--upstream',
        upstream.url,
        '--cluster',
        `${CLUSTER}=${back.url}`,
      ]);
      t.equal(run.stdout, `${run.session.url}\n`, 'stdout carries only the URL');
      for (let i = 0; i < 20; i++) {
        const res = await clientGet(`${run.session.url}/api/${i}`, {
          'x-request-id': `rid-${i}`,
          authorization: 'Bearer secret',
        });
        t.equal(res.status, 200);
        t.equal(res.body, 'from back-golang');
      }
      await back.arrived(20);
      await waitFor(
        () =>
          run
            .stderr()
            .split('\n')
            .filter((l) => l.startsWith('GET /api/')).length === 20,
      );
      await new Promise((r) => setTimeout(r, 100));
      t.equal(back.seen.length, 20, 'exactly 20 callouts');
      t.same(
        back.seen.map((s) => s.headers['x-request-id']).sort(),
        Array.from({ length: 20 }, (_, i) => `rid-${i}`).sort(),
        'x-request-id propagated',
      );
      t.ok(
        back.seen.every((s) => s.headers.authorization === undefined && s.headers.host === CLUSTER_HOST),
        'authorization never forwarded; the Service host as authority',
      );
      t.match(run.stderr(), new RegExp(`meshwasm dev \\(${engine}\\): http://127\\.0\\.0\\.1:\\d+ -> `));
      t.match(
        run.stderr(),
        /^GET \/api\/3 200 \d+\.\dms callouts=1 \[200\]$/m,
        'one access-log line per request',
      );
      await run.session.stop();
      t.match(run.stderr(), /meshwasm dev: 20 requests, 20 callouts \(200=20\), p50 \S+ms p99 \S+ms/);
    });

    await t.test('async with back-python down: still 200, the callout counted as refused', async (t) => {
      const upstream = await startBackPython(t);
      const run = await dev(t, [
        '--engine',
        engine,
        '--upstream',
        upstream.url,
        '--cluster',
        `${CLUSTER}=${await refusingUrl()}`,
      ]);
      t.equal((await clientGet(run.session.url)).status, 200);
      await waitFor(() => /callouts=1 \[refused\]/.test(run.stderr()));
      t.match(run.stderr(), /^GET \/ 200 \S+ callouts=1 \[refused\]$/m);
    });

    await t.test('blocking with a slow back-python: the configured status', async (t) => {
      const upstream = await startBackPython(t);
      const back = await startBackPython(t, () => ({ delayMs: 1000 }));
      const run = await dev(t, [
        '--engine',
        engine,
        '--upstream',
        upstream.url,
        '--cluster',
        `${CLUSTER}=${back.url}`,
        '--mode',
        'blocking',
        '--failure-status',
        '503',
        '--callout-timeout-ms',
        '100',
      ]);
      t.equal((await clientGet(run.session.url)).status, 503);
      t.equal(upstream.seen.length, 0);
    });

    await t.test('a POST body reaches back-golang intact (values file and flags together)', async (t) => {
      const upstream = await startBackPython(t);
      const back = await startBackPython(t);
      const values = join(mkdtempSync(join(tmpdir(), 'meshwasm-dev-values-')), 'values.yaml');
      writeFileSync(values, 'mode: blocking\nfanOut: 2\n');
      const run = await dev(t, [
        '--engine',
        engine,
        '-f',
        values,
        '--outcome-header',
        'x-outcome',
        '--upstream',
        upstream.url,
        '--cluster',
        `${CLUSTER}=${back.url}`,
      ]);
      t.match(JSON.parse(run.session.pluginConfig), {
        mode: 'blocking',
        fanOut: 2,
        outcomeHeader: 'x-outcome',
      });
      const body = 'y'.repeat(70_000);
      t.equal(await post(run.session.url, body), 200);
      t.equal(upstream.seen[0]!.body, body);
      t.equal(back.seen.length, 2);
    });

    await t.test('--listen on a port that is taken: exit 2 naming --listen', async (t) => {
      const taken = await startBackPython(t);
      const run = await runCommand(Dev, ['--engine', engine, '--listen', new URL(taken.url).host]);
      t.equal(run.exitCode, 2);
      t.match(run.stderr, /--listen: 127\.0\.0\.1:\d+ is already in use; pick another port/);
      t.equal(run.stdout, '');
    });
  });
}

t.test('another module with a raw --config and the filter log lines', async (t) => {
  const b = new ProxyModuleBuilder();
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
    { log: 'callout answered', level: 3 },
    { call: 'proxy_set_effective_context', args: [{ load: slot(20) }] },
    { call: 'proxy_continue_stream', args: [0] },
  ]);
  const wasm = join(mkdtempSync(join(tmpdir(), 'meshwasm-dev-')), 'fixture.wasm');
  writeFileSync(wasm, b.build());
  const upstream = await startBackPython(t);
  const back = await startBackPython(t);
  const run = await dev(t, [
    '--wasm',
    wasm,
    '--config',
    '{"cluster":"back"}',
    '--upstream',
    upstream.url,
    '--cluster',
    `back=${back.url}`,
    '--log-level',
    'warn',
  ]);
  t.equal((await clientGet(`${run.session.url}/hello`)).status, 200);
  t.same(
    back.seen.map((s) => s.url),
    ['/jump'],
  );
  t.match(run.stderr(), /^\[warn\] callout answered$/m, 'the filter log line with its level');
});

t.test('bad input: one line, exit 2, nothing on stdout, no credentials, no stack trace', async (t) => {
  const cases: Array<[string[], RegExp]> = [
    [
      ['--upstream', '127.0.0.1:8442'],
      /^Error: --upstream: '127\.0\.0\.1:8442' has no scheme; write it as http:\/\/127\.0\.0\.1:8442$/m,
    ],
    [['--upstream', 'http://[::1'], /^Error: --upstream: 'http:\/\/\[::1' is not a valid URL/],
    [
      ['--upstream', 'https://127.0.0.1:1'],
      /--upstream: 'https:\/\/127\.0\.0\.1:1' is https:\/\/; only http:\/\//,
    ],
    [
      ['--upstream', 'http://user:s3cret@127.0.0.1:1'],
      /--upstream: 'http:\/\/\*\*\*@127\.0\.0\.1:1' carries credentials/,
    ],
    [['--upstream', 'http://127.0.0.1:1/base'], /--upstream: 'http:\/\/127\.0\.0\.1:1\/base' has a path/],
    [['--cluster', 'nourl'], /--cluster: 'nourl' is not NAME=URL/],
    [['--cluster', 'c=http://u:p@x:1'], /--cluster c: 'http:\/\/\*\*\*@x:1' carries credentials/],
    [['--listen', '10000'], /--listen: '10000' is not HOST:PORT/],
    [['--listen', 'h:99999'], /--listen: 'h:99999' is not HOST:PORT/],
    [
      ['--wasm', '/nonexistent/plugin.wasm'],
      /--wasm: \/nonexistent\/plugin\.wasm cannot be read; build the filter/,
    ],
    [['--config', '{nope'], /--config: not valid JSON .*; give one JSON object \(a values file goes to -f\)/],
    [['--config', '{"mode":"nope"}'], /--config: mode: must be one of async, blocking/],
    [['--mode', 'nope'], /--mode/],
    [['-f', '/nonexistent/values.yaml'], /--values: \/nonexistent\/values\.yaml does not exist/],
  ];
  const values = join(mkdtempSync(join(tmpdir(), 'meshwasm-dev-bad-')), 'values.yaml');
  writeFileSync(values, 'mode: blocking\n');
  cases.push([['--config-file', values], /--config-file: not valid JSON/]);
  const badYaml = join(mkdtempSync(join(tmpdir(), 'meshwasm-dev-bad-')), 'bad.yaml');
  writeFileSync(badYaml, 'a: [\n');
  cases.push([['-f', badYaml], /--values: .*bad\.yaml is not valid YAML/]);
  for (const [argv, message] of cases) {
    const listen = argv.includes('--listen') ? [] : ['--listen', '127.0.0.1:0'];
    const run = await runCommand(Dev, [...listen, ...argv]);
    t.equal(run.exitCode, 2, argv.join(' '));
    t.match(run.stderr, message);
    t.equal(run.stdout, '');
    t.notMatch(run.stderr, /s3cret|\bu:p@|\n\s+at /, 'no credentials, no stack trace');
  }
});

t.test('--engine envoy without an Envoy says how to install one', async (t) => {
  const saved = process.env.MESHWASM_ENVOY;
  process.env.MESHWASM_ENVOY = '/nonexistent/envoy';
  t.teardown(() => {
    if (saved === undefined) delete process.env.MESHWASM_ENVOY;
    else process.env.MESHWASM_ENVOY = saved;
  });
  const run = await runCommand(Dev, ['--engine', 'envoy', '--listen', '127.0.0.1:0']);
  t.equal(run.exitCode, 2);
  t.match(
    run.stderr,
    /--engine envoy: no Envoy found; install Envoy with `bash scripts\/components\.sh envoy`/,
  );
});

t.test('--engine envoy with a module Envoy refuses: exit 2 with the reason', async (t) => {
  if (!requireComponent(t, 'envoy')) return;
  const notWasm = join(mkdtempSync(join(tmpdir(), 'meshwasm-dev-notwasm-')), 'plugin.wasm');
  writeFileSync(notWasm, 'not a module');
  const run = await runCommand(Dev, ['--engine', 'envoy', '--listen', '127.0.0.1:0', '--wasm', notWasm]);
  t.equal(run.exitCode, 2);
  t.match(run.stderr, /^Error: --engine envoy: Envoy did not start: \S/);
  t.equal(run.stderr.trim().split('\n').length, 1, 'one line');
  t.equal(run.stdout, '');
});

/** `meshwasm dev` as a real process in front of two back-python stand-ins; stdout and stderr collected. */
async function spawnDev(t: Test, extra: string[], back = {}) {
  const upstream = await startBackPython(t);
  const callout = await startBackPython(t, () => back);
  const child = spawn(
    process.execPath,
    [
      'bin/run.js',
      'dev',
      ...extra,
      '--listen',
      '127.0.0.1:0',
      '--upstream',
      upstream.url,
      '--cluster',
      `${CLUSTER}=${callout.url}`,
    ],
    { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'], env: envForSignalledChild() },
  );
  t.teardown(() => child.kill('SIGKILL'));
  const out = { stdout: '', stderr: '' };
  child.stderr.on('data', (c: Buffer) => (out.stderr += c.toString()));
  const firstLine = new Promise<string>((resolve) =>
    child.stdout.on('data', (d: Buffer) => {
      out.stdout += d.toString();
      if (out.stdout.includes('\n')) resolve(out.stdout.split('\n')[0]!);
    }),
  );
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, back: callout, out, firstLine, exit };
}

t.test('SIGINT: the summary after draining, exit 0 (a real process)', async (t) => {
  const dev = await spawnDev(t, []);
  const url = await dev.firstLine;
  t.equal((await clientGet(`${url}/x`)).status, 200);
  await dev.back.arrived(1);
  dev.child.kill('SIGINT');
  t.equal(await dev.exit, 0);
  t.match(dev.out.stderr, /^GET \/x 200 \S+ callouts=1 \[200\]$/m);
  t.match(dev.out.stderr, /meshwasm dev: 1 requests, 1 callouts \(200=1\), p50 /);
});

t.test(
  '-o json: a JSON line when listening and the summary as JSON after draining (a real process)',
  async (t) => {
    const dev = await spawnDev(t, ['-o', 'json'], { status: 503 });
    const started = JSON.parse(await dev.firstLine) as { url: string; engine: string };
    t.equal(started.engine, 'node');
    t.match(started.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    for (let i = 0; i < 2; i++) t.equal((await clientGet(`${started.url}/x`)).status, 200);
    await dev.back.arrived(2);
    dev.child.kill('SIGINT');
    t.equal(await dev.exit, 0);
    const lines = dev.out.stdout.trim().split('\n');
    t.equal(lines.length, 2, 'stdout: two JSON lines, nothing else');
    t.match(JSON.parse(lines[1]!), {
      url: started.url,
      engine: 'node',
      requests: 2,
      callouts: { total: 2, byOutcome: { 503: 2 } },
      latencyMs: { p50: Number, p99: Number },
    });
  },
);

t.test('helpers: redaction, --listen forms, percentiles', async (t) => {
  t.equal(redactUrl('http://a:b@h:1/p'), 'http://***@h:1/p');
  t.equal(redactUrl('not a url'), 'not a url');
  t.same(parseListen('[::1]:0'), { host: '::1', port: 0 });
  t.equal(percentile([], 0.5), '-');
  t.equal(percentile([5, 1, 3, 2, 4], 0.5), '3.0ms');
  t.equal(percentile([5, 1, 3, 2, 4], 0.99), '5.0ms');
});
