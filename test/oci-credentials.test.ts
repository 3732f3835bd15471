import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { parseCredsFlag, resolveCredential } from '../oci/credentials.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');

async function home(t: { teardown(fn: () => unknown): void }) {
  const dir = await mkdtemp(join(tmpdir(), 'meshwasm-creds-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await mkdir(join(dir, '.docker'));
  return dir;
}

t.test('flags win and are labelled by flag name', async (t) => {
  t.same(await resolveCredential('quay.io', 'a/b', { creds: 'u:p:with:colons', env: {} }), {
    credential: { username: 'u', password: 'p:with:colons', source: '--creds' },
    consulted: ['--creds'],
  });
  t.match(await resolveCredential('quay.io', 'a/b', { username: 'u', password: 'pw', env: {} }), {
    credential: { username: 'u', password: 'pw', source: '--username/--password-stdin' },
  });
  await t.rejects(resolveCredential('quay.io', 'a', { password: 'pw', env: {} }), {
    code: 'EUSAGE',
    message: /needs --username/,
  });
  for (const bad of ['nocolon', ':pw', 'user:']) t.throws(() => parseCredsFlag(bad), { code: 'EUSAGE' }, bad);
});

t.test('docker config.json: inline entries, Docker Hub aliases, most specific podman key', async (t) => {
  const dir = await home(t);
  await writeFile(
    join(dir, '.docker', 'config.json'),
    JSON.stringify({
      auths: {
        'https://index.docker.io/v1/': { auth: b64('hub:hubpw') },
        'http://reg.local:5000/': { username: 'plain', password: 'plainpw' },
        'quay.io': { auth: b64('quay:general') },
        'quay.io/team': { auth: b64('quay:team') },
        'ghcr.io': { identitytoken: 'opaque' },
        'empty.io': {},
      },
    }),
  );
  const env = { HOME: dir };
  const label = join(dir, '.docker', 'config.json');
  t.match(await resolveCredential('docker.io', 'library/x', { env }), {
    credential: {
      username: 'hub',
      password: 'hubpw',
      source: `${label} entry "https://index.docker.io/v1/"`,
    },
  });
  t.match(await resolveCredential('reg.local:5000', 'x', { env }), {
    credential: { username: 'plain', password: 'plainpw' },
  });
  t.match(
    await resolveCredential('quay.io', 'team/filter', { env }),
    { credential: { password: 'team' } },
    'repository-scoped key wins',
  );
  t.match(await resolveCredential('quay.io', 'other/filter', { env }), {
    credential: { password: 'general' },
  });
  const ghcr = await resolveCredential('ghcr.io', 'x', { env });
  t.equal(ghcr.credential, null);
  t.match(ghcr.consulted.join('\n'), /OAuth identity token, which meshwasm does not support/);
  const none = await resolveCredential('nowhere.io', 'x', { env });
  t.equal(none.credential, null);
  t.match(none.consulted, [/containers\/auth\.json \(not found\)/, `${label} (no entry for nowhere.io)`]);
  t.equal((await resolveCredential('empty.io', 'x', { env })).credential, null);
});

t.test('REGISTRY_AUTH_FILE, XDG_RUNTIME_DIR and DOCKER_CONFIG are honoured in order', async (t) => {
  const dir = await home(t);
  const authFile = join(dir, 'auth.json');
  await writeFile(authFile, JSON.stringify({ auths: { 'r.io': { auth: b64('from:authfile') } } }));
  await mkdir(join(dir, 'run', 'containers'), { recursive: true });
  await writeFile(
    join(dir, 'run', 'containers', 'auth.json'),
    JSON.stringify({ auths: { 'r.io': { auth: b64('from:runtime') } } }),
  );
  await mkdir(join(dir, 'dockercfg'));
  await writeFile(
    join(dir, 'dockercfg', 'config.json'),
    JSON.stringify({ auths: { 'd.io': { auth: b64('from:docker') } } }),
  );
  const env = { HOME: dir, XDG_RUNTIME_DIR: join(dir, 'run'), DOCKER_CONFIG: join(dir, 'dockercfg') };
  t.match(await resolveCredential('r.io', 'x', { env: { ...env, REGISTRY_AUTH_FILE: authFile } }), {
    credential: { password: 'authfile', source: `REGISTRY_AUTH_FILE (${authFile}) entry "r.io"` },
  });
  t.match(await resolveCredential('r.io', 'x', { env }), { credential: { password: 'runtime' } });
  t.match(await resolveCredential('d.io', 'x', { env }), { credential: { password: 'docker' } });
});

t.test('credential helpers', async (t) => {
  const dir = await home(t);
  await writeFile(
    join(dir, '.docker', 'config.json'),
    JSON.stringify({ auths: { 'h.io': {} }, credHelpers: { 'h.io': 'pass' }, credsStore: 'desktop' }),
  );
  const asked: string[] = [];
  const runHelper = async (helper: string, server: string) => {
    asked.push(`${helper} ${server}`);
    if (helper === 'pass')
      return JSON.stringify({ ServerURL: server, Username: 'helped', Secret: 'helper-secret' });
    if (server === 'https://index.docker.io/v1/') return JSON.stringify({ Username: '<token>', Secret: 'x' });
    if (server === 'broken.io') return 'not json';
    throw new Error('credentials not found in native keychain');
  };
  const env = { HOME: dir };
  t.match(await resolveCredential('h.io', 'x', { env, runHelper }), {
    credential: {
      username: 'helped',
      password: 'helper-secret',
      source: /credential helper docker-credential-pass/,
    },
  });
  const hub = await resolveCredential('docker.io', 'library/x', { env, runHelper });
  t.equal(hub.credential, null, 'identity tokens from helpers are not used');
  t.match(hub.consulted.join('\n'), /docker-credential-desktop .*no usable entry/);
  const missing = await resolveCredential('other.io', 'x', { env, runHelper });
  t.match(missing.consulted.join('\n'), /docker-credential-desktop .*failed or has no entry/);
  await t.rejects(resolveCredential('broken.io', 'x', { env, runHelper }), {
    code: 'EAUTH',
    message: /printed something that is not JSON/,
  });
  t.same(asked.slice(0, 2), ['pass h.io', 'desktop https://index.docker.io/v1/']);
});

t.test('unreadable files are reported by path, never by content', async (t) => {
  const dir = await home(t);
  await writeFile(join(dir, '.docker', 'config.json'), '{"auths": {"x.io": {"auth": "c2VjcmV0"}}}');
  await t.rejects(resolveCredential('x.io', 'r', { env: { HOME: dir } }), {
    code: 'EAUTH',
    message: /auth is not base64 of USER:PASSWORD/,
  });
  await writeFile(join(dir, '.docker', 'config.json'), '{"auths": {"x.io": {"auth": "hunter2"');
  const err = await resolveCredential('x.io', 'r', { env: { HOME: dir } }).catch((e) => e);
  t.match(err, {
    code: 'EAUTH',
    message: `credentials file ${join(dir, '.docker', 'config.json')} is not valid JSON`,
  });
  t.notMatch(err.message, 'hunter2');
  await rm(join(dir, '.docker', 'config.json'));
  await mkdir(join(dir, '.docker', 'config.json'));
  await t.rejects(resolveCredential('x.io', 'r', { env: { HOME: dir } }), {
    message: /cannot read credentials file .*EISDIR/,
  });
});
