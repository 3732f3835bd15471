// A real kube-apiserver (with kine) for a test file, through scripts/local-apiserver.sh: started in
// a state folder of its own, stopped at teardown. No controller runs on it (no controller-manager,
// no scheduler, no mesh control plane): tests that need status write it themselves, as a controller
// would. Also a small admin client (cluster/ itself) for setting up what a real install has.
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Test } from 'tap';

import { Api, type KubeObject } from '../../cluster/api.js';
import { connect } from '../../cluster/connection.js';
import { componentPath, requireComponent } from './components.js';
import { ROOT } from './render-run.js';

export interface TestApiServer {
  kubeconfig: string;
  /** Admin client (context admin). */
  api: Api;
  /** Stops kine and kube-apiserver (teardown does it too; twice is harmless). */
  stop(): void;
}

function script(
  action: 'start' | 'stop',
  dir: string,
): { status: number | null; stdout: string; stderr: string } {
  return spawnSync('bash', [join(ROOT, 'scripts', 'local-apiserver.sh'), action], {
    env: {
      ...process.env,
      MESHWASM_APISERVER_DIR: dir,
      MESHWASM_KINE: componentPath('kine') ?? '',
      MESHWASM_KUBE_APISERVER: componentPath('kube-apiserver') ?? '',
    },
    encoding: 'utf8',
  });
}

/** Starts an API server for `t` (undefined, with the test skipped or failed, when the components are missing). */
export async function startApiServer(t: Test): Promise<TestApiServer | undefined> {
  if (!requireComponent(t, 'kine') || !requireComponent(t, 'kube-apiserver')) return undefined;
  const dir = mkdtempSync(join(tmpdir(), 'meshwasm-apiserver-'));
  const started = script('start', dir);
  const stop = () => void script('stop', dir);
  t.teardown(stop);
  if (started.status !== 0) throw new Error(`local-apiserver.sh start failed:\n${started.stderr}`);
  const kubeconfig = started.stdout.trim().split('\n').at(-1)!;
  const api = new Api(await connect({ kubeconfig }));
  return { kubeconfig, api, stop };
}

/** Server-side apply as a test's own field manager (what an installer or controller would write). */
export async function install(api: Api, object: KubeObject, manager = 'test-setup'): Promise<KubeObject> {
  const type = await api.requireType(object.apiVersion, object.kind);
  const response = await api.call(
    {
      method: 'PATCH',
      path: api.path(type, object.metadata.namespace, object.metadata.name),
      query: { fieldManager: manager, force: 'true' },
      body: object,
      contentType: 'application/apply-patch+yaml',
    },
    'patch',
    type.plural,
  );
  return api.expect(response, 'apply', `${object.kind} ${object.metadata.name}`);
}

/** Writes status the way a controller does (the status subresource), since none runs here. */
export async function writeStatus(api: Api, object: KubeObject, status: KubeObject): Promise<void> {
  const type = await api.requireType(object.apiVersion, object.kind);
  const response = await api.call(
    {
      method: 'PATCH',
      path: `${api.path(type, object.metadata.namespace, object.metadata.name)}/status`,
      query: { fieldManager: 'test-controller', force: 'true' },
      body: {
        apiVersion: object.apiVersion,
        kind: object.kind,
        metadata: { name: object.metadata.name, namespace: object.metadata.namespace },
        status,
      },
      contentType: 'application/apply-patch+yaml',
    },
    'patch',
    `${type.plural}/status`,
  );
  api.expect(response, 'write status of', `${object.kind} ${object.metadata.name}`);
}

export async function remove(
  api: Api,
  apiVersion: string,
  kind: string,
  namespace: string | undefined,
  name: string,
): Promise<void> {
  const type = await api.requireType(apiVersion, kind);
  const response = await api.call(
    { method: 'DELETE', path: api.path(type, namespace, name) },
    'delete',
    type.plural,
  );
  if (response.status !== 404) api.expect(response, 'delete', `${kind} ${name}`);
}

export const namespace = (name: string): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Namespace',
  metadata: { name },
});
