import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import Render from '../cli/commands/render.js';
import { digestHex } from '../oci/digest.js';
import { pushWasm } from '../oci/push.js';
import { haveTools, startRegistry } from './helpers/registry.js';
import { runCommand, sampleWasm } from './helpers/registry-fixtures.js';

/**
 * `render --image REF` with a tag: the render command pins it through oci/pin.ts. The test
 * registry speaks plain HTTP and render has no --insecure, so the registry lookup fails its TLS
 * handshake and the digest comes from the push recorded on this machine (the offline path).
 */
t.test('render pins a pushed tag to its digest for each target', async (t) => {
  if (!haveTools(t, 'docker-registry')) return;
  const registry = await startRegistry(t);
  const home = await mkdtemp(join(tmpdir(), 'meshwasm-render-pin-'));
  const saved = { HOME: process.env.HOME, XDG_STATE_HOME: process.env.XDG_STATE_HOME };
  process.env.HOME = home;
  process.env.XDG_STATE_HOME = join(home, 'state');
  t.teardown(async () => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    await rm(home, { recursive: true, force: true });
  });

  const tagged = `${registry.host}/team/jump-filter:v1`;
  const { digest } = await pushWasm(tagged, sampleWasm(), { insecure: true });

  const ossm = await runCommand(Render, ['--target', 'ossm', '--image', `oci://${tagged}`]);
  t.equal(ossm.exitCode, 0, ossm.error?.message ?? '');
  t.match(ossm.stdout, `url: oci://${tagged}@${digest}\n`, 'WasmPlugin url carries the digest');
  t.match(ossm.stdout, `sha256: ${digestHex(digest)}\n`, 'WasmPlugin sha256 is the manifest digest hex');
  t.match(
    ossm.stderr,
    /^warning: cannot reach .* TLS handshake failed.*using the digest recorded when this machine pushed/,
  );
  t.notMatch(ossm.stderr, /is not pinned/);

  const eg = await runCommand(Render, ['--target', 'envoy-gateway', '--image', `oci://${tagged}`]);
  t.equal(eg.exitCode, 0, eg.error?.message ?? '');
  t.ok(
    eg.stdout.includes(`url: "${tagged}@${digest}"\n`),
    'EnvoyExtensionPolicy image.url carries the digest',
  );
  t.match(
    eg.stdout,
    `sha256: ${digestHex(digest)}\n`,
    'EnvoyExtensionPolicy image.sha256 is the image digest',
  );

  const missing = await runCommand(Render, [
    '--target',
    'ossm',
    '--image',
    `oci://${registry.host}/team/never-pushed:v1`,
  ]);
  t.equal(missing.exitCode, 1);
  t.equal(missing.stdout, '', 'nothing partial on stdout');
  t.match(
    missing.stderr,
    /^Error: cannot pin .*never-pushed:v1 to a digest: .*no recorded push of it\. Pass REF@sha256:<digest>, or run meshwasm push first/,
  );

  const unpinnedDefault = await runCommand(Render, ['--target', 'ossm']);
  t.equal(unpinnedDefault.exitCode, 0, 'the default image is not looked up (no network needed)');
  t.match(unpinnedDefault.stderr, /warning: the default image .* is not pinned/);
});
