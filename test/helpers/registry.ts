import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Test } from 'tap';
import { missingPrerequisite } from './components.js';

/**
 * Starts Debian's `docker-registry` (distribution 2.8) on a free 127.0.0.1 port with filesystem
 * storage in a temp dir, optionally behind htpasswd (Basic) or token (Bearer) auth, and stops
 * it when the test ends. Tests that need it call `haveTools` first: missing binaries skip the
 * test with a reason, except under CI, where they fail it.
 */

type Tap = Pick<Test, 'teardown' | 'skip' | 'fail'>;

export function haveTools(t: Tap, ...tools: string[]): boolean {
  const missing = tools.filter((tool) => spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0);
  if (missing.length === 0) return true;
  missingPrerequisite(
    t,
    `${missing.join(', ')} not installed (Debian packages: docker-registry, skopeo, apache2-utils for htpasswd, openssl)`,
  );
  return false;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export interface RegistryAuth {
  htpasswd?: { username: string; password: string };
  /** Token auth: the registry sends clients to `realm`; `rootCertBundle` holds the signer's certificate. */
  token?: { realm: string; service: string; issuer: string; rootCertBundle: string };
}

export interface TestRegistry {
  /** `127.0.0.1:PORT`, the registry part of an image reference. */
  host: string;
  url: string;
  dir: string;
  process: ChildProcess;
  logs(): string;
}

function answering(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get(url, (res) => {
      res.resume();
      resolve(true);
    });
    req.setTimeout(1000, () => req.destroy());
    req.on('error', () => resolve(false));
  });
}

export function htpasswdLine(username: string, password: string): string {
  // bcrypt is the only hash distribution accepts; cost 4 keeps the test fast.
  const out = spawnSync('htpasswd', ['-nbBC', '4', username, password], { encoding: 'utf8' });
  if (out.status !== 0) throw new Error(`htpasswd failed: ${out.stderr}`);
  return out.stdout.trim();
}

export async function startRegistry(t: Tap, auth: RegistryAuth = {}): Promise<TestRegistry> {
  const dir = await mkdtemp(join(tmpdir(), 'meshwasm-registry-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  let authConfig = '';
  if (auth.htpasswd) {
    const file = join(dir, 'htpasswd');
    await writeFile(file, `${htpasswdLine(auth.htpasswd.username, auth.htpasswd.password)}\n`);
    authConfig = `auth:\n  htpasswd:\n    realm: meshwasm-test\n    path: ${file}\n`;
  } else if (auth.token) {
    const a = auth.token;
    authConfig =
      `auth:\n  token:\n    realm: ${a.realm}\n    service: ${a.service}\n    issuer: ${a.issuer}\n` +
      `    rootcertbundle: ${a.rootCertBundle}\n`;
  }

  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    const config = join(dir, 'config.yml');
    await writeFile(
      config,
      `version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: ${join(dir, 'data')}\n` +
        `  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:${port}\n  secret: meshwasm-test-secret\n${authConfig}`,
    );
    let output = '';
    const child = spawn('docker-registry', ['serve', config], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
    let exited = false;
    child.once('exit', () => (exited = true));
    const url = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + 15_000;
    while (!exited && Date.now() < deadline && !(await answering(`${url}/v2/`))) {
      await new Promise((r) => setTimeout(r, 100));
    }
    if (!exited && Date.now() < deadline) {
      t.teardown(
        () =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            child.once('exit', () => resolve());
            child.kill('SIGTERM');
          }),
      );
      return { host: `127.0.0.1:${port}`, url, dir, process: child, logs: () => output };
    }
    child.kill('SIGKILL');
    // The port may have been taken between probing and binding; try another a few times.
    if (attempt >= 2) throw new Error(`docker-registry did not start: ${output}`);
  }
}
