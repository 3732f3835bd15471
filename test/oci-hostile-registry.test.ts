// The registry client against a hostile registry (test/helpers/hostile-registry.ts): every
// operation ends by its deadline, nothing oversized is buffered, only digests computed from the
// bytes received are pinned, and nothing the registry says reaches the terminal as escapes.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';

import { OciError } from '../oci/errors.js';
import { pinImageReference } from '../oci/pin.js';
import { MAX_MANIFEST_BYTES, RegistryClient } from '../oci/registry.js';
import { haveTools } from './helpers/registry.js';
import { FORGED_LINE, startHostileRegistry, type Behaviour } from './helpers/hostile-registry.js';
import { runCliAsync } from './helpers/render-run.js';

// No push record on this machine: the registry's answer is all there is.
const home = mkdtempSync(join(tmpdir(), 'meshwasm-hostile-home-'));
const env = { HOME: home, XDG_STATE_HOME: join(home, 'state') };
t.teardown(() => rmSync(home, { recursive: true, force: true }));

// eslint-disable-next-line no-control-regex
const ESCAPES = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/;

async function pinFrom(behaviour: Behaviour, t: { teardown(fn: () => unknown): void }, deadlineMs = 1500) {
  const registry = await startHostileRegistry(t, behaviour);
  const warnings: string[] = [];
  const result = await pinImageReference(`${registry.host}/team/filter:v1`, {
    insecure: true,
    env,
    deadlineMs,
    onWarning: (w) => warnings.push(w),
  }).then(
    (pinned) => ({ pinned, error: undefined }),
    (error: OciError) => ({ pinned: undefined, error }),
  );
  return { registry, warnings, ...result };
}

t.test('a slow-drip registry: the pin ends at its overall deadline', async (t) => {
  const { error, registry } = await pinFrom('slow-drip', t, 1500);
  t.ok(error instanceof OciError, 'fails');
  t.equal(error?.code, 'EPIN', 'not pinned, and no push record to fall back on');
  t.match(error?.message, /no complete answer within 1\.5 s .*--registry-timeout SECONDS/);
  t.ok(registry.requests.some((r) => r.startsWith('GET /v2/team/filter/manifests/v1')));
});

t.test('a manifest over 4 MiB is refused without buffering it', async (t) => {
  for (const behaviour of ['huge-manifest', 'huge-manifest-declared'] as const) {
    const { error } = await pinFrom(behaviour, t, 30_000);
    t.equal(error?.code, 'EPIN', behaviour);
    t.match(
      error?.message,
      /sent more than 4 MiB for the manifest of team\/filter:v1; refusing it \(registries cap manifests and indexes at 4 MiB\)/,
      behaviour,
    );
  }
  t.equal(MAX_MANIFEST_BYTES, 4 * 1024 * 1024);
});

t.test('only a digest computed from the bytes received is pinned', async (t) => {
  const head = await pinFrom('wrong-head-digest', t);
  t.equal(head.error, undefined, head.error?.message);
  t.equal(head.pinned?.digest, head.registry.image.digest, 'the digest of the manifest bytes');
  t.not(head.pinned?.digest, head.registry.claimedDigest, 'not the HEAD header');

  const both = await pinFrom('wrong-digest', t);
  t.equal(both.error?.code, 'EDIGEST', 'a registry whose header and bytes disagree is not believed');
  t.match(
    both.error?.message,
    `says team/filter:v1 is ${both.registry.claimedDigest}, but the manifest it sent hashes to ${both.registry.image.digest}`,
  );
});

t.test('a multi-platform index pins its linux/amd64 image, and says why', async (t) => {
  const index = await pinFrom('index', t);
  t.equal(index.error, undefined, index.error?.message);
  t.equal(index.pinned?.digest, index.registry.image.digest, 'the linux/amd64 image manifest digest');
  t.match(
    index.warnings.join('\n'),
    /is an image index \(sha256:[0-9a-f]{64}\); pinned its linux\/amd64 image/,
  );
  t.match(index.warnings.join('\n'), /Istio's agent resolves an index to that platform and compares sha256/);
  t.ok(
    index.registry.requests.includes(`GET /v2/team/filter/manifests/${index.registry.image.digest}`),
    'the child manifest is fetched (and verified) by digest',
  );

  const wasmOnly = await pinFrom('index-wasm-only', t);
  t.equal(wasmOnly.error?.code, 'EPIN');
  t.match(wasmOnly.error?.message, /image index .* without a linux\/amd64 image/);
});

t.test('registry error text is printed without escapes, and cut', async (t) => {
  for (const behaviour of ['ansi-error', 'huge-error'] as const) {
    const { error } = await pinFrom(behaviour, t);
    t.equal(error?.code, 'EPIN', behaviour);
    t.match(error?.message, /answered HTTP 500 to GET manifest/, behaviour);
    t.match(error?.message, '✔ push succeeded', `${behaviour}: the text is kept, inert`);
    t.notMatch(error?.message, ESCAPES, `${behaviour}: no control characters`);
    t.notMatch(error?.message, /\[2K|\]0;pwned/, `${behaviour}: no remains of the escape sequences`);
    t.ok((error?.message.length ?? 0) < 1000, `${behaviour}: ${error?.message.length} characters`);
  }
  t.ok(FORGED_LINE.includes('\u001b]0;'), 'the forged line does retitle a terminal');
});

t.test('a blob is read only up to the size its descriptor gives', async (t) => {
  const registry = await startHostileRegistry(t, 'huge-manifest');
  const client = new RegistryClient({ registry: registry.host, insecure: true });
  t.teardown(() => client.close());
  await t.rejects(client.getBlob('team/filter', registry.image.digest, 'pull', 10), {
    code: 'EDIGEST',
    message:
      /sent more than 10 bytes for blob sha256:[0-9a-f]{64}, which its descriptor says is 10 bytes; refusing it$/,
  });
});

t.test('real CLI: render --image against a hostile registry over TLS', async (t) => {
  if (!haveTools(t, 'openssl')) return;
  const run = async (behaviour: Behaviour, extra: string[], extraEnv: Record<string, string> = {}) => {
    const registry = await startHostileRegistry(t, behaviour, { tls: true });
    const result = await runCliAsync(
      ['render', '--image', `oci://${registry.host}/team/filter:v1`, ...extra],
      {
        env: { ...env, NODE_EXTRA_CA_CERTS: registry.caFile!, ...extraEnv },
      },
    );
    return { registry, result };
  };

  const honest = await run('honest', []);
  t.equal(honest.result.code, 0, honest.result.stderr);
  t.match(honest.result.stdout, `@${honest.registry.image.digest}`, 'pinned over TLS');

  for (const [what, extra, extraEnv] of [
    ['--registry-timeout 1 (lean entry)', ['--registry-timeout', '1'], {}],
    ['--registry-timeout 1 (oclif)', ['--registry-timeout', '1'], { MESHWASM_OCLIF: '1' }],
    ['MESHWASM_REGISTRY_TIMEOUT=1', [], { MESHWASM_REGISTRY_TIMEOUT: '1' }],
  ] as const) {
    const { result } = await run('slow-drip', [...extra], extraEnv);
    t.equal(result.code, 1, `${what}: exit 1`);
    t.equal(result.stdout, '', `${what}: nothing on stdout`);
    t.match(result.stderr, /^Error: cannot pin .*no complete answer within 1 s/, what);
  }

  const bad = await runCliAsync(['render', '--registry-timeout', '0'], { env });
  t.equal(bad.code, 2);
  t.match(
    bad.stderr,
    /^Error: --registry-timeout: 0 is out of range; use a number of seconds between 1 and 3600/,
  );

  const ansi = await run('ansi-error', []);
  t.equal(ansi.result.code, 1);
  t.notMatch(ansi.result.stderr, ESCAPES, 'stderr carries no escape from the registry');
  t.match(ansi.result.stderr, 'oops ✔ push succeeded');
});

t.test('real CLI: DEBUG=* push --creds prints the password nowhere', async (t) => {
  const password = 's3cret-Pa55word';
  const registry = await startHostileRegistry(t, 'honest', { basic: `alice:${password}` });
  for (const creds of [['--creds', `alice:${password}`], [`--creds=alice:${password}`]]) {
    const before = registry.requests.length;
    const push = await runCliAsync(['push', `${registry.host}/team/filter:v1`, '--insecure', ...creds], {
      env: { ...env, DEBUG: '*' },
    });
    t.match(push.stderr, /oclif:main process\.argv/, `${creds[0]}: oclif's debug log is on`);
    t.notMatch(push.stderr, password, `${creds[0]}: the password is not in stderr`);
    t.notMatch(push.stderr, Buffer.from(`alice:${password}`).toString('base64'), 'nor its Basic encoding');
    t.notMatch(push.stdout, password);
    // The credentials still reach the registry: it let the client past /v2/ to the manifest.
    t.ok(
      registry.requests.slice(before).some((r) => r.startsWith('HEAD /v2/team/filter/manifests/v1')),
      `${creds[0]}: authenticated with the real password`,
    );
  }
});
