import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { sha256Digest } from '../oci/digest.js';
import { buildImage } from '../oci/image.js';
import { readOciLayout } from '../oci/layout.js';
import { pinImageReference } from '../oci/pin.js';
import { findPush, lastPush } from '../oci/push-record.js';
import { pushWasm, type PushOptions } from '../oci/push.js';
import { RegistryClient } from '../oci/registry.js';
import { verifyIstioImage } from '../oci/verify.js';
import { freePort, haveTools, startRegistry } from './helpers/registry.js';
import { sampleWasm } from './helpers/registry-fixtures.js';
import { startProxy } from './helpers/registry-proxy.js';
import { startTokenService } from './helpers/registry-token.js';

const wasm = sampleWasm();

/** A private HOME (no real docker config) and state dir per test. */
async function sandbox(t: { teardown(fn: () => unknown): void }) {
  const home = await mkdtemp(join(tmpdir(), 'meshwasm-home-'));
  t.teardown(() => rm(home, { recursive: true, force: true }));
  const env: NodeJS.ProcessEnv = { HOME: home, XDG_STATE_HOME: join(home, 'state') };
  return {
    home,
    env,
    options: (extra: PushOptions = {}): PushOptions => ({ insecure: true, env, timeoutMs: 10_000, ...extra }),
  };
}

/** Async on purpose: the token service lives in this process and must keep answering. */
function skopeo(...args: string[]): Promise<{ status: number | null; stdout: Buffer; stderr: Buffer }> {
  return new Promise((resolve) => {
    const child = spawn('skopeo', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    child.on('close', (status) =>
      resolve({ status, stdout: Buffer.concat(out), stderr: Buffer.concat(err) }),
    );
  });
}

t.test('push, then skopeo pulls the same image back', async (t) => {
  if (!haveTools(t, 'docker-registry', 'skopeo')) return;
  const registry = await startRegistry(t);
  const { home, options } = await sandbox(t);
  for (const format of ['compat', 'artifact'] as const) {
    const ref = `${registry.host}/team/jump-filter:${format}`;
    const result = await pushWasm(ref, wasm, options({ format }));
    t.match(result.digest, /^sha256:[a-f0-9]{64}$/);
    t.equal(result.reference, `${registry.host}/team/jump-filter:${format}@${result.digest}`);
    t.equal(result.variant, format === 'compat' ? 'compat' : 'oci');

    const raw = await skopeo('inspect', '--tls-verify=false', '--raw', `docker://${ref}`);
    t.equal(raw.status, 0, raw.stderr.toString());
    t.equal(sha256Digest(raw.stdout), result.digest, `${format}: the digest push printed is the registry's`);
    if (format === 'compat') {
      // (skopeo's non-raw inspect only understands container-image configs.)
      const inspected = await skopeo(
        'inspect',
        '--tls-verify=false',
        '--format',
        '{{.Digest}}',
        `docker://${ref}`,
      );
      t.equal(inspected.stdout.toString().trim(), result.digest);
    }

    const dir = join(home, `pulled-${format}`);
    const copied = await skopeo(
      'copy',
      '-q',
      '--src-tls-verify=false',
      `docker://${ref}`,
      `oci:${dir}:pulled`,
    );
    t.equal(copied.status, 0, copied.stderr.toString());
    const pulled = await verifyIstioImage(await readOciLayout(dir, { refName: 'pulled' }));
    t.equal(pulled.digest, result.digest, 'skopeo kept the manifest byte for byte');
    t.same(pulled.wasm, wasm, `${format}: plugin.wasm bytes match the build`);
  }
});

t.test('deterministic: the same module gives the same digest, and a re-push uploads nothing', async (t) => {
  if (!haveTools(t, 'docker-registry')) return;
  const registry = await startRegistry(t);
  const { options } = await sandbox(t);
  const first = await pushWasm(`${registry.host}/f:one`, Buffer.from(wasm), options());
  const again = await pushWasm(`${registry.host}/f:two`, Buffer.from(wasm), options());
  t.equal(again.digest, first.digest);
  t.equal(first.uploaded, 2, 'config and layer');
  t.same([again.uploaded, again.alreadyPresent], [0, 2]);
  t.equal(first.digest, buildImage(wasm).digest, 'the digest is known before pushing');
  const other = await pushWasm(`${registry.host}/f:three`, sampleWasm('different'), options());
  t.not(other.digest, first.digest);

  const byDigest = await pushWasm(`${registry.host}/f@${first.digest}`, wasm, options());
  t.equal(byDigest.reference, `${registry.host}/f@${first.digest}`, 'push by digest, no tag');
  await t.rejects(pushWasm(`${registry.host}/f@${other.digest}`, wasm, options()), {
    code: 'EUSAGE',
    message: /names digest .* but this module packages as/,
  });
});

t.test('pin a tag from the registry, or from the last recorded push', async (t) => {
  if (!haveTools(t, 'docker-registry')) return;
  const registry = await startRegistry(t);
  const { env, options } = await sandbox(t);
  const ref = `${registry.host}/team/pinned:v1`;
  const pushed = await pushWasm(ref, wasm, options({ format: 'artifact' }));
  const record = await findPush({ registry: registry.host, repository: 'team/pinned', tag: 'v1' }, { env });
  t.match(record, { digest: pushed.digest, format: 'artifact', wasmSha256: pushed.wasmSha256 });
  t.equal((await lastPush({ env }))?.digest, pushed.digest);

  const fromRegistry = await pinImageReference(ref, { insecure: true, env });
  t.same(fromRegistry, {
    registry: registry.host,
    repository: 'team/pinned',
    tag: 'v1',
    digest: pushed.digest,
    reference: `${ref}@${pushed.digest}`,
    source: 'registry',
    wasmSha256: pushed.wasmSha256,
  });
  const digestGiven = await pinImageReference(`${ref}@${pushed.digest}`, { env });
  t.equal(digestGiven.source, 'reference', 'a reference with a digest needs no lookup');
  await t.rejects(pinImageReference(`${registry.host}/team/pinned:never-pushed`, { insecure: true, env }), {
    code: 'EPIN',
    message: /the tag does not exist/,
  });

  // Someone re-tags v1 behind our back: the registry's answer wins over the local record.
  const moved = await pushWasm(
    ref,
    sampleWasm('moved'),
    options({ env: { ...env, XDG_STATE_HOME: join(env.HOME!, 'elsewhere') } }),
  );
  t.equal((await pinImageReference(ref, { insecure: true, env })).digest, moved.digest);

  registry.process.kill('SIGTERM');
  await new Promise((r) => registry.process.once('exit', r));
  const warnings: string[] = [];
  const offline = await pinImageReference(ref, {
    insecure: true,
    env,
    timeoutMs: 5000,
    onWarning: (w) => warnings.push(w),
  });
  t.equal(offline.source, 'push-record');
  t.equal(offline.digest, pushed.digest);
  t.match(warnings[0], /cannot reach .*connection refused.*using the digest recorded/);
  t.equal((await pinImageReference(ref, { offline: true, env })).source, 'push-record');
  await t.rejects(pinImageReference(`${registry.host}/team/other:v1`, { insecure: true, env }), {
    code: 'EPIN',
    message: /connection refused.*no recorded push of it/,
  });
});

t.test('faults: no TLS without --insecure, unreachable registry; nothing recorded', async (t) => {
  if (!haveTools(t, 'docker-registry')) return;
  const registry = await startRegistry(t);
  const { env, options } = await sandbox(t);
  await t.rejects(pushWasm(`${registry.host}/f:v1`, wasm, options({ insecure: false })), {
    code: 'EUNREACHABLE',
    message: `cannot reach ${registry.host} at https://${registry.host}: TLS handshake failed; if it serves plain HTTP, pass --insecure (only on a network you trust)`,
  });
  const closed = await freePort();
  await t.rejects(pushWasm(`127.0.0.1:${closed}/f:v1`, wasm, options()), {
    code: 'EUNREACHABLE',
    message: `cannot reach 127.0.0.1:${closed} at http://127.0.0.1:${closed}: connection refused`,
  });
  t.equal(await lastPush({ env }), null, 'no push record');
});

t.test('faults from the registry: rejected manifest, changed manifest or blob on read-back', async (t) => {
  if (!haveTools(t, 'docker-registry')) return;
  const registry = await startRegistry(t);
  const proxy = await startProxy(registry.host);
  t.teardown(proxy.close);
  const { env, options } = await sandbox(t);
  const client = new RegistryClient({ registry: registry.host, insecure: true });
  t.teardown(() => client.close());

  // The real registry refuses a manifest whose blobs were never uploaded.
  const image = buildImage(wasm);
  await t.rejects(client.putManifest('direct', 'v1', image.manifest), {
    code: 'EREJECTED',
    message: /answered HTTP 400 to the manifest for direct:v1: MANIFEST_BLOB_UNKNOWN/,
  });

  proxy.rules.intercept = (req) =>
    req.method === 'PUT' && req.url?.includes('/manifests/')
      ? {
          status: 400,
          headers: { 'content-type': 'application/json' },
          body: Buffer.from(
            '{"errors":[{"code":"MANIFEST_INVALID","message":"manifest invalid","detail":"policy: no wasm"}]}',
          ),
        }
      : undefined;
  await t.rejects(pushWasm(`${proxy.host}/f:v1`, wasm, options()), {
    code: 'EREJECTED',
    message: /MANIFEST_INVALID: manifest invalid/,
  });
  t.equal(await lastPush({ env }), null, 'no push record after a rejected manifest');

  // Manifest changes between PUT and GET: the digest check catches it and the new tag is withdrawn.
  proxy.rules.intercept = undefined;
  proxy.rules.rewrite = (req, res) =>
    req.method === 'GET' && req.url?.includes('/manifests/')
      ? { ...res, body: Buffer.from(res.body.toString().replace('"schemaVersion":2', '"schemaVersion": 2')) }
      : res;
  await t.rejects(pushWasm(`${proxy.host}/g:v1`, wasm, options()), {
    code: 'EDIGEST',
    message:
      /(read-back of .*g:v1 returned manifest|says g:v1 is) sha256:\w+, but .*sha256:\w+.* \(the unverified manifest was deleted again\)/,
  });
  t.equal(await client.headManifest('g', 'v1'), null, 'the tag is gone from the registry');
  t.equal(await lastPush({ env }), null);

  // Tag existed before: the error names the digest it pointed at.
  const good = await pushWasm(
    `${registry.host}/h:v1`,
    sampleWasm('old'),
    options({ env: { ...env, XDG_STATE_HOME: join(env.HOME!, 'x') } }),
  );
  proxy.rules.rewrite = (req, res) =>
    req.method === 'GET' && req.url?.includes('/blobs/') && res.status === 200
      ? { ...res, body: Buffer.concat([res.body, Buffer.from('junk')]) }
      : res;
  await t.rejects(pushWasm(`${proxy.host}/h:v1`, wasm, options()), {
    code: 'EDIGEST',
    message: new RegExp(
      `(came back as|sent more than \\d+ bytes for blob) .* pointed at ${good.digest} before this push; re-tag it to restore`,
    ),
  });
  t.equal(await lastPush({ env }), null);
});

t.test('htpasswd (Basic) auth: the right credentials push, wrong ones fail cleanly', async (t) => {
  if (!haveTools(t, 'docker-registry', 'skopeo', 'htpasswd')) return;
  const user = { username: 'alice', password: 'correct horse battery' };
  const registry = await startRegistry(t, { htpasswd: user });
  const { home, env, options } = await sandbox(t);
  const ref = `${registry.host}/secure/filter:v1`;

  const pushed = await pushWasm(
    ref,
    wasm,
    options({ credentials: { creds: `${user.username}:${user.password}` } }),
  );
  const raw = await skopeo(
    'inspect',
    '--tls-verify=false',
    '--raw',
    '--creds',
    `${user.username}:${user.password}`,
    `docker://${ref}`,
  );
  t.equal(sha256Digest(raw.stdout), pushed.digest);
  const denied = await skopeo('inspect', '--tls-verify=false', '--raw', '--no-creds', `docker://${ref}`);
  t.not(denied.status, 0, 'the registry really requires credentials');

  const wrong = 'not-the-password-xyzzy';
  const failure = await pushWasm(
    ref,
    wasm,
    options({ credentials: { creds: `${user.username}:${wrong}` } }),
  ).catch((e) => e);
  t.match(failure, {
    code: 'EAUTH',
    message: `registry ${registry.host} rejected the credentials (HTTP 401) to push to secure/filter, using credentials from --creds`,
  });
  t.notMatch(failure.message, wrong, 'the password never appears');
  t.notMatch(failure.message, user.username, 'nor the user name');

  const anonymous = await pushWasm(ref, wasm, options()).catch((e) => e);
  t.match(anonymous, {
    code: 'EAUTH',
    message:
      /requires credentials to push to secure\/filter and none were found \(looked in: .*config\.json \(not found\)\)/,
  });

  const viaStdin = await pushWasm(
    ref,
    wasm,
    options({ credentials: { username: user.username, password: user.password } }),
  );
  t.equal(viaStdin.digest, pushed.digest);

  // Auth files: REGISTRY_AUTH_FILE first, then ~/.docker/config.json.
  const entry = (password: string) => ({
    auths: { [registry.host]: { auth: Buffer.from(`${user.username}:${password}`).toString('base64') } },
  });
  await mkdir(join(home, '.docker'));
  await writeFile(join(home, '.docker', 'config.json'), JSON.stringify(entry(user.password)));
  t.equal(
    (await pushWasm(ref, wasm, options())).digest,
    pushed.digest,
    'credentials from ~/.docker/config.json',
  );
  const authFile = join(home, 'auth.json');
  await writeFile(authFile, JSON.stringify(entry(wrong)));
  const badFile = await pushWasm(ref, wasm, options({ env: { ...env, REGISTRY_AUTH_FILE: authFile } })).catch(
    (e) => e,
  );
  t.match(badFile, {
    code: 'EAUTH',
    message: `using credentials from REGISTRY_AUTH_FILE (${authFile}) entry "${registry.host}"`,
  });
  t.notMatch(badFile.message, wrong);
});

t.test('token (Bearer) auth: the challenge flow against the real registry', async (t) => {
  if (!haveTools(t, 'docker-registry', 'skopeo', 'openssl')) return;
  const dir = await mkdtemp(join(tmpdir(), 'meshwasm-token-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const tokens = await startTokenService(dir, { bob: 's3cret-token-pw' });
  t.teardown(tokens.close);
  const registry = await startRegistry(t, { token: tokens });
  const { env, options } = await sandbox(t);
  const ref = `${registry.host}/tok/filter:v1`;

  const pushed = await pushWasm(ref, wasm, options({ credentials: { creds: 'bob:s3cret-token-pw' } }));
  t.match(tokens.requests, [{ scope: ['repository:tok/filter:pull,push'], user: 'bob', granted: true }]);
  t.equal(tokens.requests.length, 1, 'one token serves the whole push and read-back');
  const raw = await skopeo(
    'inspect',
    '--tls-verify=false',
    '--raw',
    '--creds',
    'bob:s3cret-token-pw',
    `docker://${ref}`,
  );
  t.equal(sha256Digest(raw.stdout), pushed.digest);

  const pinned = await pinImageReference(ref, {
    insecure: true,
    env: { ...env, XDG_STATE_HOME: join(env.HOME!, 'none') },
    credentials: { creds: 'bob:s3cret-token-pw' },
  });
  t.equal(pinned.digest, pushed.digest);
  t.equal(pinned.source, 'registry');

  await t.rejects(pushWasm(ref, wasm, options({ credentials: { creds: 'bob:wrong' } })), {
    code: 'EAUTH',
    message: /rejected the credentials \(HTTP 401\) to push to tok\/filter, using credentials from --creds$/,
  });
  await t.rejects(pushWasm(ref, wasm, options()), { code: 'EAUTH', message: /none were found/ });
  await t.rejects(pushWasm(ref, wasm, options({ insecure: false })), { code: 'EUNREACHABLE' });

  // A registry on TLS that sends us to a plain-HTTP token service gets no credentials.
  const client = new RegistryClient({ registry: registry.host, insecure: true });
  t.teardown(() => client.close());
  t.ok(
    await client.blobExists('tok/filter', pushed.digest).catch((e) => e.code),
    'anonymous pull is refused',
  );
});

t.test(
  'blob redirects never carry credentials; a missing Docker-Content-Digest falls back to GET',
  async (t) => {
    if (!haveTools(t, 'docker-registry', 'htpasswd')) return;
    const user = { username: 'carol', password: 'redirect-pw' };
    const registry = await startRegistry(t, { htpasswd: user });
    const { env, options } = await sandbox(t);
    const creds = { creds: `${user.username}:${user.password}` };

    // "Object storage": serves blobs it fetches from the registry itself, and notes what it was sent.
    const seenByStorage: Array<string | undefined> = [];
    const basic = `Basic ${Buffer.from(`${user.username}:${user.password}`).toString('base64')}`;
    const storage = http.createServer((req, res) => {
      seenByStorage.push(req.headers.authorization);
      // A second hop inside storage (signed-URL style): credentials must not appear there either.
      if (!req.url?.startsWith('/signed'))
        return void res.writeHead(307, { location: `/signed${req.url}` }).end();
      http.get(
        `${registry.url}${req.url.slice('/signed'.length)}`,
        { headers: { authorization: basic } },
        (up) => {
          res.writeHead(up.statusCode ?? 502, { 'content-type': 'application/octet-stream' });
          up.pipe(res);
        },
      );
    });
    await new Promise<void>((resolve) => storage.listen(0, '127.0.0.1', resolve));
    t.teardown(() => new Promise<void>((resolve) => storage.close(() => resolve())));
    const storagePort = (storage.address() as { port: number }).port;

    const proxy = await startProxy(registry.host);
    t.teardown(proxy.close);
    proxy.rules.intercept = (req) =>
      req.method === 'GET' && req.url?.includes('/blobs/sha256:')
        ? {
            status: 307,
            headers: { location: `http://127.0.0.1:${storagePort}${req.url}` },
            body: Buffer.alloc(0),
          }
        : undefined;
    // Some registries omit Docker-Content-Digest on HEAD; pinning must then hash the manifest itself.
    proxy.rules.rewrite = (req, res) => {
      if (req.method === 'HEAD' && req.url?.includes('/manifests/'))
        delete res.headers['docker-content-digest'];
      return res;
    };

    const pushed = await pushWasm(`${proxy.host}/r/filter:v1`, wasm, options({ credentials: creds }));
    t.ok(seenByStorage.length >= 2, 'read-back fetched the layer through two redirects');
    t.same(new Set(seenByStorage), new Set([undefined]), 'no Authorization header left the registry');
    const pinned = await pinImageReference(`${proxy.host}/r/filter:v1`, {
      insecure: true,
      env: { ...env, XDG_STATE_HOME: join(env.HOME!, 'no-record') },
      credentials: creds,
    });
    t.same([pinned.digest, pinned.source], [pushed.digest, 'registry']);
  },
);
