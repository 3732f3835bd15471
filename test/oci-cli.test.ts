import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import Build from '../cli/commands/build.js';
import Push from '../cli/commands/push.js';
import { sha256Hex } from '../oci/digest.js';
import { buildImage } from '../oci/image.js';
import { readOciArchive, readOciLayout } from '../oci/layout.js';
import { lastPush } from '../oci/push-record.js';
import { verifyIstioImage } from '../oci/verify.js';
import { haveTools, startRegistry } from './helpers/registry.js';
import { runCommand, sampleWasm } from './helpers/registry-fixtures.js';

/** The commands read process.env: give each test its own HOME and state dir. */
async function isolatedEnv(t: { teardown(fn: () => unknown): void }) {
  const home = await mkdtemp(join(tmpdir(), 'meshwasm-cli-'));
  const saved = {
    HOME: process.env.HOME,
    XDG_STATE_HOME: process.env.XDG_STATE_HOME,
    REGISTRY_AUTH_FILE: process.env.REGISTRY_AUTH_FILE,
  };
  process.env.HOME = home;
  process.env.XDG_STATE_HOME = join(home, 'state');
  delete process.env.REGISTRY_AUTH_FILE;
  t.teardown(async () => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    await rm(home, { recursive: true, force: true });
  });
  const wasmFile = join(home, 'plugin.wasm');
  await writeFile(wasmFile, sampleWasm());
  return { home, wasmFile };
}

t.test('push prints only the digest, and records the push', async (t) => {
  if (!haveTools(t, 'docker-registry')) return;
  const registry = await startRegistry(t);
  const { wasmFile } = await isolatedEnv(t);
  const run = await runCommand(Push, [
    `${registry.host}/cli/filter:v1`,
    '--insecure',
    '--wasm',
    wasmFile,
    '--format',
    'artifact',
  ]);
  t.equal(run.exitCode, 0, run.error?.message ?? '');
  const expected = buildImage(sampleWasm(), { format: 'artifact' }).digest;
  t.equal(run.stdout, `${expected}\n`, 'stdout is the digest and nothing else');
  t.equal((await lastPush())?.digest, expected);
});

t.test('push: bad input and auth failures exit non-zero with nothing on stdout and no record', async (t) => {
  if (!haveTools(t, 'docker-registry', 'htpasswd')) return;
  const registry = await startRegistry(t, { htpasswd: { username: 'ci', password: 'pa55word' } });
  const { wasmFile } = await isolatedEnv(t);
  const ref = `${registry.host}/cli/secure:v1`;

  const badRef = await runCommand(Push, ['quay.io/Team/Filter', '--wasm', wasmFile]);
  t.equal(badRef.exitCode, 2);
  t.match(
    badRef.error?.message,
    /invalid image reference "quay.io\/Team\/Filter": repository "Team\/Filter" must be lowercase/,
  );
  t.equal(badRef.stdout, '');

  const noWasm = await runCommand(Push, [ref, '--wasm', join(wasmFile, 'nope')]);
  t.equal(noWasm.exitCode, 2);
  t.match(noWasm.error?.message, /does not exist; run "meshwasm build" first or pass --wasm FILE/);

  const badCreds = await runCommand(Push, [
    ref,
    '--insecure',
    '--wasm',
    wasmFile,
    '--creds',
    'ci:wrong-password',
  ]);
  t.equal(badCreds.exitCode, 1);
  t.equal(badCreds.stdout, '');
  t.match(
    badCreds.error?.message,
    /rejected the credentials \(HTTP 401\) to push to cli\/secure, using credentials from --creds/,
  );
  t.notMatch(badCreds.error?.message, 'wrong-password');

  const malformedCreds = await runCommand(Push, [
    ref,
    '--insecure',
    '--wasm',
    wasmFile,
    '--creds',
    'just-a-user',
  ]);
  t.equal(malformedCreds.exitCode, 2);
  t.match(malformedCreds.error?.message, /--creds must be USER:PASSWORD/);

  const both = await runCommand(Push, [
    ref,
    '--wasm',
    wasmFile,
    '--creds',
    'a:b',
    '--username',
    'a',
    '--password-stdin',
  ]);
  t.equal(both.exitCode, 2, 'oclif rejects --creds together with --username');
  t.equal(await lastPush(), null, 'nothing recorded');

  const stdin = await runCommand(
    Push,
    [ref, '--insecure', '--wasm', wasmFile, '--username', 'ci', '--password-stdin'],
    'pa55word\n',
  );
  t.equal(stdin.exitCode, 0, stdin.error?.message ?? '');
  t.equal(stdin.stdout, `${buildImage(sampleWasm()).digest}\n`);
});

const filterBuild = fileURLToPath(new URL('../filter/build.mjs', import.meta.url));

t.test('build compiles the filter and writes verified offline images', async (t) => {
  if (!existsSync(filterBuild)) {
    if (process.env.CI) t.fail('filter/build.mjs is missing');
    else t.skip('filter/build.mjs is not there yet', () => {});
    return;
  }
  const { home } = await isolatedEnv(t);
  const out = join(home, 'out');
  const layout = join(home, 'layout');
  const archive = join(home, 'filter.oci.tar');
  const run = await runCommand(Build, [
    '--out',
    out,
    '--oci-layout',
    layout,
    '--oci-archive',
    archive,
    '--tag',
    'v7',
  ]);
  t.equal(run.exitCode, 0, run.error?.message ?? '');
  const wasm = await readFile(join(out, 'plugin.wasm'));
  const digest = buildImage(wasm).digest;
  t.equal(
    run.stdout,
    [
      `wasm    ${join(out, 'plugin.wasm')}`,
      `size    ${wasm.length}`,
      `sha256  ${sha256Hex(wasm)}`,
      `image   ${digest} (compat)`,
      `layout  ${layout}  (oci:${layout}:v7)`,
      `archive ${archive}  (oci-archive:${archive}:v7)`,
      '',
    ].join('\n'),
  );
  t.equal(run.stderr, '', 'no progress line when stderr is not a TTY');
  t.equal((await verifyIstioImage(await readOciLayout(layout, { refName: 'v7' }))).digest, digest);
  t.same((await verifyIstioImage(await readOciArchive(archive, { refName: 'v7' }))).wasm, wasm);

  const json = await runCommand(Build, [
    '--out',
    out,
    '--json',
    '--oci-layout',
    layout,
    '--format',
    'artifact',
  ]);
  t.equal(json.exitCode, 0, json.error?.message ?? '');
  t.same(
    JSON.parse(json.stdout),
    {
      wasm: { path: join(out, 'plugin.wasm'), size: wasm.length, sha256: sha256Hex(wasm) },
      image: { digest: buildImage(wasm, { format: 'artifact' }).digest, format: 'artifact', layout },
    },
    'same module: the image digest is reproducible across builds',
  );

  await writeFile(join(home, 'notes'), 'x');
  const refused = await runCommand(Build, ['--out', out, '--oci-layout', join(home, 'notes')]);
  t.equal(refused.exitCode, 1);
  t.match(refused.error?.message, /exists and is not a directory/);
  t.equal(refused.stdout, '');

  // The archive from the first run exists: only --force overwrites it.
  const again = await runCommand(Build, ['--out', out, '--oci-archive', archive]);
  t.equal(again.exitCode, 2, 'an existing archive is a usage error');
  t.match(again.error?.message, /already exists; pass --force to overwrite it/);
  const forced = await runCommand(Build, ['--out', out, '--oci-archive', archive, '--force', '--tag', 'v8']);
  t.equal(forced.exitCode, 0, forced.error?.message ?? '');
  t.equal((await verifyIstioImage(await readOciArchive(archive, { refName: 'v8' }))).digest, digest);

  const badTag = await runCommand(Build, ['--out', out, '--oci-layout', layout, '--tag', 'v1\nx']);
  t.equal(badTag.exitCode, 2);
  t.match(badTag.error?.message, /--tag "v1\\nx" is not a valid tag/);
  t.equal(badTag.stdout, '');
});
