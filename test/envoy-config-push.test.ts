// Real Envoy 1.40: a configuration push. Envoy keeps the Wasm VM when only the plugin configuration
// changes: the new configuration gets a root context of its own in the same VM, and the old root
// context is deleted once nothing uses the old configuration any more (the old listener has
// drained). Blocking streams of the new configuration may be waiting on callouts at that moment;
// the old root's teardown must not make them forget their callouts (an earlier filter cleared every
// waiting stream when any root ended, and such a stream then hung until Envoy's idle timeout).
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { clientGet, startBackPython, startUpstream } from './helpers/back-python.js';
import { requireComponent } from './helpers/components.js';
import { httpListener, startEnvoy, staticCluster, wasmFilter } from './helpers/envoy.js';
import { PLUGIN_PATH } from './helpers/filter-host.js';
import { freePort } from './helpers/registry.js';

const envoyBin = requireComponent(t, 'envoy');

async function stats(adminPort: number): Promise<Map<string, number>> {
  const res = await fetch(`http://127.0.0.1:${adminPort}/stats?usedonly`);
  const out = new Map<string, number>();
  for (const line of (await res.text()).split('\n')) {
    const m = /^([^:]+): (\d+)$/.exec(line);
    if (m) out.set(m[1]!, Number(m[2]));
  }
  return out;
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

t.test(
  'after a push, the old root context goes away and the new blocking streams still resume',
  async (t) => {
    if (!envoyBin) return;
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    // Callouts that carry x-hold wait until released; the others are answered at once.
    const back = await startBackPython(t, (req) => (req.headers['x-hold'] ? { hold: held } : {}));
    const app = await startUpstream(t);
    const dir = await mkdtemp(join(tmpdir(), 'meshwasm-push-'));
    t.teardown(() => rm(dir, { recursive: true, force: true }));
    const [port, adminPort] = [await freePort(), await freePort()];
    const lds = join(dir, 'lds.json');
    // Envoy reloads the LDS file when it is moved into place in the watched directory.
    const push = async (timeoutMs: number) => {
      const config = { cluster: 'back-python', mode: 'blocking', timeoutMs, propagateHeaders: ['x-hold'] };
      const listener = httpListener('front', port, 'app', [
        wasmFilter('meshwasm', PLUGIN_PATH, JSON.stringify(config)),
      ]);
      const resources = [{ '@type': 'type.googleapis.com/envoy.config.listener.v3.Listener', ...listener }];
      await writeFile(`${lds}.tmp`, JSON.stringify({ resources }));
      await rename(`${lds}.tmp`, lds);
    };
    await push(9000);
    const bootstrap = {
      node: { id: 'meshwasm-test', cluster: 'meshwasm-test' },
      admin: { address: { socket_address: { address: '127.0.0.1', port_value: adminPort } } },
      dynamic_resources: {
        lds_config: {
          resource_api_version: 'V3',
          path_config_source: { path: lds, watched_directory: { path: dir } },
        },
      },
      static_resources: {
        clusters: [
          staticCluster('app', Number(new URL(app.url).port)),
          staticCluster('back-python', Number(new URL(back.url).port)),
        ],
      },
    };
    // Drain the replaced listener's connections at once and for 1 s only, so the old configuration
    // (and with it the old root context) is let go within the test.
    const envoy = await startEnvoy(
      t,
      envoyBin,
      bootstrap,
      [port],
      ['--drain-time-s', '1', '--drain-strategy', 'immediate'],
    );

    const first = await clientGet(`http://127.0.0.1:${port}/a`, { connection: 'close' });
    t.equal(first.status, 200, 'the first configuration serves, its callout answered');
    t.equal(back.seen.length, 1);

    await push(8000);
    await until(
      'the pushed listener',
      async () => (await stats(adminPort)).get('listener_manager.listener_modified') === 1,
    );

    // A stream of the new configuration whose callout is held.
    const waiting = clientGet(`http://127.0.0.1:${port}/b`, { 'x-hold': '1', connection: 'close' }, 15_000);
    await back.arrived(2);
    t.equal(back.seen[1]!.headers['x-hold'], '1', 'its callout reached back-python and is held');

    // The old configuration is let go: nothing drains any more, and a moment later its root
    // context is deleted on the worker.
    await until('the old listener to drain', async () => {
      const s = await stats(adminPort);
      return (
        (s.get('listener_manager.total_filter_chains_draining') ?? 0) === 0 &&
        (s.get('listener_manager.total_listeners_draining') ?? 0) === 0
      );
    });
    await new Promise((r) => setTimeout(r, 1000));

    const released = Date.now();
    release();
    const second = await waiting.catch((error: Error) => ({ status: 0, error: error.message }));
    t.equal(second.status, 200, 'the waiting stream resumed when its callout answered');
    t.ok(Date.now() - released < 5000, 'at once, not at a timeout');
    t.notMatch(envoy.log(), /\[critical\]|wasm.*failed/i, 'no VM failure');
  },
);
