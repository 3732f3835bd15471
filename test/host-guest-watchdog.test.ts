// A module that never returns: Envoy would hang that worker for good; the host's opt-in watchdog
// (what `meshwasm dev` uses) fails the VM after --guest-timeout or on SIGINT, and the gateway lives.
import { spawn } from 'node:child_process';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { ProxyWasmHost, startGateway } from '../host/index.js';
import { envForSignalledChild } from './helpers/child-env.js';
import { listenLoopback } from './helpers/loopback.js';
import { rawExchange, simpleGet } from './helpers/raw-http.js';
import { ProxyModuleBuilder } from './helpers/wasm-fixtures.js';

const repoRoot = fileURLToPath(new URL('../', import.meta.url));

function loopingModule(): Uint8Array {
  const b = new ProxyModuleBuilder();
  b.callback('proxy_on_request_headers', [{ log: 'looping' }, { loopForever: true }], 0);
  b.callback('proxy_on_done');
  return b.build();
}

t.test(
  '--guest-timeout: the looping call fails the VM as a trap does; later requests get the VM-failure reply',
  async (t) => {
    const { url } = await listenLoopback(t, (_rq, rs) => rs.end('up'));
    const gw = await startGateway({
      host: { wasm: loopingModule(), guestWatchdog: { timeoutMs: 200 }, logSink: () => undefined },
      upstream: url,
    });
    t.teardown(() => gw.close());
    const first = await rawExchange(gw.url, simpleGet());
    t.match(first, /^HTTP\/1\.1 503 /, 'the stuck request is answered');
    t.ok(gw.host.isFailed(), 'the VM failed');
    t.ok(
      gw.host
        .getLogs()
        .some((e) =>
          /proxy_on_request_headers failed: ran longer than the guest timeout \(200 ms\)/.test(e.message),
        ),
      'the host says which call ran too long',
    );
    t.match(await rawExchange(gw.url, simpleGet()), /^HTTP\/1\.1 503 /, 'and the gateway keeps serving');
  },
);

t.test('without a watchdog the call runs as it does in Envoy (no extra cost, no limit)', async (t) => {
  const b = new ProxyModuleBuilder();
  b.callback('proxy_on_request_headers', [{ log: 'fine' }], 0);
  const host = await ProxyWasmHost.start({ wasm: b.build(), guestWatchdog: { timeoutMs: 1000 } });
  t.teardown(() => host.shutdown());
  const id = host.initializeHttpContext();
  t.equal(
    host.callOnRequestHeaders(
      id,
      [
        [':path', '/'],
        [':method', 'GET'],
        [':authority', 'a'],
      ],
      true,
    ),
    0,
  );
  t.notOk(host.isFailed(), 'a call that returns is untouched by the watchdog');
});

t.test(
  'meshwasm dev: a module that loops forever fails at the guest timeout; a Ctrl-C meanwhile then stops dev',
  async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'meshwasm-loop-'));
    const wasm = join(dir, 'loop.wasm');
    writeFileSync(wasm, loopingModule());
    const { url } = await listenLoopback(t, (_rq, rs) => rs.end('up'));
    const child = spawn(
      process.execPath,
      [
        join(repoRoot, 'bin/run.js'),
        'dev',
        '--wasm',
        wasm,
        '--upstream',
        url,
        '--listen',
        '127.0.0.1:0',
        '--guest-timeout',
        '1000',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'], env: envForSignalledChild() },
    );
    t.teardown(() => {
      if (child.exitCode === null) child.kill('SIGKILL');
    });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const gatewayUrl = await new Promise<string>((resolve) =>
      child.stdout.once('data', (c: Buffer) => resolve(c.toString().trim())),
    );
    const answer = rawExchange(gatewayUrl, simpleGet(), 10_000);
    while (!stderr.includes('looping')) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 100));
    child.kill('SIGINT');
    const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
    t.equal(code, 0, 'dev exits on the first Ctrl-C, sent while the guest was looping');
    t.match(stderr, /ran longer than the guest timeout \(1000 ms\)/);
    t.match(stderr, /meshwasm dev: 1 requests/, 'after draining, as for any Ctrl-C');
    await answer;
  },
);
