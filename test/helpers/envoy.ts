// Real Envoy for tests: writes a bootstrap, starts the binary scripts/components.sh installed,
// waits until every listener accepts connections, and stops it at teardown. Hot restart is off so
// parallel Envoys (other tests, other users of the machine) never share a base id.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { clusterFor } from '../../envoy/index.js';

export interface Teardown {
  teardown(fn: () => unknown): void;
}

export interface RunningEnvoy {
  /** Everything Envoy printed so far (its own log, including the wasm logger). */
  log(): string;
  stop(): Promise<void>;
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

export async function startEnvoy(
  t: Teardown,
  binary: string,
  bootstrap: object,
  listenerPorts: number[],
  extraArgs: string[] = [],
): Promise<RunningEnvoy> {
  const dir = await mkdtemp(join(tmpdir(), 'meshwasm-envoy-'));
  const config = join(dir, 'envoy.json');
  await writeFile(config, JSON.stringify(bootstrap));
  let output = '';
  const child: ChildProcess = spawn(
    binary,
    [
      '-c',
      config,
      '--disable-hot-restart',
      '--concurrency',
      '1',
      '-l',
      'info',
      '--log-format',
      '%v',
      ...extraArgs,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
  let exited = false;
  const exit = new Promise<void>((resolve) =>
    child.once('exit', () => {
      exited = true;
      resolve();
    }),
  );
  const stop = async () => {
    if (!exited) child.kill('SIGTERM');
    await exit;
    await rm(dir, { recursive: true, force: true });
  };
  t.teardown(stop);
  const deadline = Date.now() + 20_000;
  for (const port of listenerPorts) {
    while (!(await accepts(port))) {
      if (exited || Date.now() > deadline) {
        await stop();
        throw new Error(`envoy did not start listening on ${port}:\n${output.slice(-4000)}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return { log: () => output, stop };
}

/** A STATIC cluster with one loopback endpoint (the product's clusterFor), plus `extra` fields. */
export function staticCluster(name: string, port: number, extra: object = {}): object {
  return { ...clusterFor(name, `http://127.0.0.1:${port}`), ...extra };
}

/** An HTTP listener whose every request goes through `filters` (then the router) to `cluster`. */
export function httpListener(name: string, port: number, cluster: string, filters: object[] = []): object {
  return {
    name,
    address: { socket_address: { address: '127.0.0.1', port_value: port } },
    filter_chains: [
      {
        filters: [
          {
            name: 'envoy.filters.network.http_connection_manager',
            typed_config: {
              '@type':
                'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
              stat_prefix: name,
              route_config: {
                virtual_hosts: [
                  { name: 'all', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster } }] },
                ],
              },
              http_filters: [
                ...filters,
                {
                  name: 'envoy.filters.http.router',
                  typed_config: {
                    '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router',
                  },
                },
              ],
            },
          },
        ],
      },
    ],
  };
}

/** The wasm HTTP filter running `wasmFile` (V8, as Istio and Envoy Gateway run it). */
export function wasmFilter(name: string, wasmFile: string, configuration = ''): object {
  return {
    name: 'envoy.filters.http.wasm',
    typed_config: {
      '@type': 'type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm',
      config: {
        name,
        root_id: '',
        vm_config: { vm_id: name, runtime: 'envoy.wasm.runtime.v8', code: { local: { filename: wasmFile } } },
        configuration: { '@type': 'type.googleapis.com/google.protobuf.StringValue', value: configuration },
      },
    },
  };
}
