// `render --image` on a plain-HTTP registry, on a machine with no record of the push: the warning's
// advice (--insecure) is a render flag, and with it (and push's credential options) the tag is
// pinned from the registry itself. Uses Debian's docker-registry (test/helpers/registry.ts).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';

import { pushWasm } from '../oci/push.js';
import { haveTools, startRegistry } from './helpers/registry.js';
import { sampleWasm } from './helpers/registry-fixtures.js';
import { runCli, runLean } from './helpers/render-run.js';

/** A HOME with no push records, for the render; the push records into another one. */
async function freshHome(t: { teardown(fn: () => unknown): void }): Promise<Record<string, string>> {
  const home = await mkdtemp(join(tmpdir(), 'meshwasm-pin-insecure-'));
  t.teardown(() => rm(home, { recursive: true, force: true }));
  return { HOME: home, XDG_STATE_HOME: join(home, 'state'), XDG_CONFIG_HOME: join(home, 'config') };
}

t.test('render --insecure pins from a plain-HTTP registry without a push record', async (t) => {
  if (!haveTools(t, 'docker-registry')) return;
  const registry = await startRegistry(t);
  const pushHome = await freshHome(t);
  const saved = { ...process.env };
  Object.assign(process.env, pushHome);
  const tagged = `${registry.host}/team/jump-filter:v1`;
  let digest: string;
  try {
    ({ digest } = await pushWasm(tagged, sampleWasm('pin-insecure'), { insecure: true }));
  } finally {
    process.env = saved;
  }
  const env = await freshHome(t);

  const without = await runLean(['--image', `oci://${tagged}`], env);
  t.equal(without.code, 1, 'no digest to pin: a registry fault, exit 1');
  t.equal(without.stdout, '');
  t.match(without.stderr, /--insecure/, 'the message tells the user to pass --insecure');

  const lean = await runLean(['--image', `oci://${tagged}`, '--insecure'], env);
  t.equal(lean.code, 0, lean.stderr);
  t.match(lean.stdout, `url: oci://${tagged}@${digest}\n`);
  t.notMatch(lean.stderr, /push record|recorded/, 'pinned from the registry itself');

  const cli = runCli(['render', '--target', 'envoy-gateway', '--image', `oci://${tagged}`, '--insecure'], {
    env,
  });
  t.equal(cli.code, 0, cli.stderr);
  t.ok(cli.stdout.includes(`url: "${tagged}@${digest}"\n`));
});

t.test('render takes push credential options for the pin', async (t) => {
  if (!haveTools(t, 'docker-registry', 'htpasswd')) return;
  const registry = await startRegistry(t, { htpasswd: { username: 'team', password: 's3cret' } });
  const pushHome = await freshHome(t);
  const saved = { ...process.env };
  Object.assign(process.env, pushHome);
  const tagged = `${registry.host}/team/private:v1`;
  let digest: string;
  try {
    ({ digest } = await pushWasm(tagged, sampleWasm('pin-creds'), {
      insecure: true,
      credentials: { creds: 'team:s3cret' },
    }));
  } finally {
    process.env = saved;
  }
  const env = await freshHome(t);
  const denied = await runLean(['--image', `oci://${tagged}`, '--insecure'], env);
  t.equal(denied.code, 1);
  const creds = await runLean(['--image', `oci://${tagged}`, '--insecure', '--creds', 'team:s3cret'], env);
  t.equal(creds.code, 0, creds.stderr);
  t.match(creds.stdout, `@${digest}\n`);
  const stdin = runCli(
    ['render', '--image', `oci://${tagged}`, '--insecure', '--username', 'team', '--password-stdin'],
    { env, input: 's3cret\n' },
  );
  t.equal(stdin.code, 0, stdin.stderr);
  t.match(stdin.stdout, `@${digest}\n`);
  t.notMatch(stdin.stderr + stdin.stdout, /s3cret/, 'the password is printed nowhere');

  const both = await runLean(['--creds', 'a:b', '--username', 'a', '--password-stdin'], env);
  t.equal(both.code, 2);
  t.match(both.stderr, /^Error: --creds: give either/);
  const alone = await runLean(['--username', 'a'], env);
  t.equal(alone.code, 2);
  t.match(alone.stderr, /^Error: --username: goes with --password-stdin/);
  const twice = await runLean(['-f', '-', '--username', 'a', '--password-stdin'], env);
  t.equal(twice.code, 2);
  t.match(twice.stderr, /stdin cannot hold both the password and the values file/);
});
