import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { buildImage } from '../oci/image.js';
import { sha256Digest } from '../oci/digest.js';
import {
  checkTag,
  exportImage,
  readOciArchive,
  readOciLayout,
  writeOciArchive,
  writeOciLayout,
} from '../oci/layout.js';
import { verifyIstioImage } from '../oci/verify.js';
import { haveTools } from './helpers/registry.js';
import { sampleWasm } from './helpers/registry-fixtures.js';

const wasm = sampleWasm();

async function scratch(t: { teardown(fn: () => unknown): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'meshwasm-layout-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

t.test('layout dir and archive are valid OCI layouts that skopeo reads', async (t) => {
  if (!haveTools(t, 'skopeo')) return;
  const dir = await scratch(t);
  for (const format of ['compat', 'artifact'] as const) {
    const image = buildImage(wasm, { format });
    const layout = join(dir, `layout-${format}`);
    const archive = join(dir, `${format}.oci.tar`);
    const written = await exportImage(image, { layout, archive }, { refName: 'v1' });
    t.same(written, { layout, archive });
    t.same(JSON.parse(await readFile(join(layout, 'oci-layout'), 'utf8')), { imageLayoutVersion: '1.0.0' });

    for (const transport of [`oci:${layout}:v1`, `oci-archive:${archive}:v1`]) {
      const raw = spawnSync('skopeo', ['inspect', '--raw', transport]);
      t.equal(raw.status, 0, `${transport}: ${raw.stderr}`);
      t.same(
        raw.stdout,
        image.manifest.data,
        `${format}: skopeo sees the exact manifest via ${transport.split(':')[0]}`,
      );
    }
    // A second tool's copy of the layout must still pass Istio's rules and keep the digest.
    const copy = join(dir, `copy-${format}`);
    const copied = spawnSync('skopeo', ['copy', '-q', `oci-archive:${archive}:v1`, `oci:${copy}:v1`], {
      encoding: 'utf8',
    });
    t.equal(copied.status, 0, copied.stderr);
    const verified = await verifyIstioImage(await readOciLayout(copy, { refName: 'v1' }));
    t.equal(verified.digest, image.digest);
    t.same(verified.wasm, wasm);
  }
});

t.test('readers find the single image without a tag, and explain what is missing', async (t) => {
  const dir = await scratch(t);
  const image = buildImage(wasm);
  await writeOciLayout(join(dir, 'l'), image);
  await writeOciArchive(join(dir, 'a.tar'), image);
  t.equal((await verifyIstioImage(await readOciLayout(join(dir, 'l')))).digest, image.digest);
  t.equal((await verifyIstioImage(await readOciArchive(join(dir, 'a.tar')))).digest, image.digest);
  await t.rejects(readOciLayout(join(dir, 'l'), { refName: 'nope' }), {
    code: 'ELAYOUT',
    message: /no single image tagged "nope"/,
  });
  await t.rejects(readOciLayout(join(dir, 'missing')), {
    code: 'ELAYOUT',
    message: /no readable index\.json/,
  });
  const source = await readOciArchive(join(dir, 'a.tar'));
  await t.rejects(source.fetchBlob({ mediaType: 'x', digest: `sha256:${'0'.repeat(64)}`, size: 1 }), {
    code: 'ELAYOUT',
  });
});

t.test('retags in an earlier layout, never a user directory, and leaves nothing half-written', async (t) => {
  const dir = await scratch(t);
  const layout = join(dir, 'layout');
  const first = buildImage(sampleWasm('first'));
  const second = buildImage(sampleWasm('second'));
  await writeOciLayout(layout, first);
  await writeOciLayout(layout, second);
  t.equal((await verifyIstioImage(await readOciLayout(layout))).digest, second.digest, 'the tag moved');
  const blobs = await readdir(join(layout, 'blobs', 'sha256'));
  for (const blob of [first.manifest, ...first.blobs])
    t.ok(blobs.includes(blob.descriptor.digest.slice(7)), "the first image's blobs stay (content-addressed)");

  const precious = join(dir, 'precious');
  await mkdir(precious);
  await writeFile(join(precious, 'notes.txt'), 'keep me');
  await t.rejects(writeOciLayout(precious, first), {
    code: 'ELAYOUT',
    message: /not an OCI layout; choose another path/,
  });
  t.equal(await readFile(join(precious, 'notes.txt'), 'utf8'), 'keep me');
  await t.rejects(writeOciLayout(join(precious, 'notes.txt'), first), {
    message: /exists and is not a directory/,
  });
  await t.rejects(writeOciArchive(precious, first), { code: 'ELAYOUT', message: /is a directory/ });
  await t.rejects(writeOciLayout(join(precious, 'notes.txt', 'sub'), first), {
    code: 'EUSAGE',
    message: /notes\.txt is not a directory; choose another path/,
  });
  await t.rejects(writeOciArchive(join(precious, 'notes.txt', 'a.tar'), first), { code: 'EUSAGE' });

  // exportImage: when the archive fails after the layout was made, the new layout is removed too.
  const fresh = join(dir, 'fresh-layout');
  await t.rejects(exportImage(first, { layout: fresh, archive: precious }), { code: 'ELAYOUT' });
  t.same((await readdir(dir)).sort(), ['layout', 'precious'], 'no temp siblings, no partial outputs');
});

t.test('adds to a layout that holds another image, as skopeo and oras do', async (t) => {
  if (!haveTools(t, 'skopeo')) return;
  const dir = await scratch(t);
  const layout = join(dir, 'shared');
  const theirs = buildImage(sampleWasm('theirs'));
  await writeOciLayout(layout, theirs, { refName: 'theirs' });
  await writeFile(join(layout, 'README.txt'), "not meshwasm's");
  const ours = buildImage(sampleWasm('ours'));
  const written = await exportImage(ours, { layout }, { refName: 'v1' });
  t.equal(written.layout, layout);
  t.equal(await readFile(join(layout, 'README.txt'), 'utf8'), "not meshwasm's", 'unrelated file kept');
  t.equal((await verifyIstioImage(await readOciLayout(layout, { refName: 'theirs' }))).digest, theirs.digest);
  t.equal((await verifyIstioImage(await readOciLayout(layout, { refName: 'v1' }))).digest, ours.digest);
  // skopeo reads both images from the one layout.
  for (const [tag, image] of [
    ['theirs', theirs],
    ['v1', ours],
  ] as const) {
    const raw = spawnSync('skopeo', ['inspect', '--raw', `oci:${layout}:${tag}`], { encoding: 'utf8' });
    t.equal(raw.status, 0, raw.stderr);
    t.equal(sha256Digest(Buffer.from(raw.stdout)), image.digest, `skopeo finds ${tag}`);
  }
  // A link planted where meshwasm writes is not followed.
  const outside = join(dir, 'outside');
  await mkdir(outside);
  const linked = join(dir, 'linked');
  await writeOciLayout(linked, theirs);
  await rm(join(linked, 'blobs'), { recursive: true });
  await symlink(outside, join(linked, 'blobs'));
  await t.rejects(writeOciLayout(linked, ours), {
    code: 'ELAYOUT',
    message: /is a symbolic link; meshwasm does not write through it/,
  });
  t.same(await readdir(outside), [], 'nothing written through the link');
  // A layout whose index.json cannot be read is not changed.
  const broken = join(dir, 'broken');
  await writeOciLayout(broken, theirs);
  await writeFile(join(broken, 'index.json'), '{not json');
  await t.rejects(writeOciLayout(broken, ours), {
    code: 'ELAYOUT',
    message: /no readable index\.json .*refusing to change it/,
  });
  t.equal(await readFile(join(broken, 'index.json'), 'utf8'), '{not json');
});

t.test('an existing archive is overwritten only with force; tags follow the distribution spec', async (t) => {
  const dir = await scratch(t);
  const archive = join(dir, 'filter.tar');
  await writeFile(archive, 'precious');
  const image = buildImage(sampleWasm('a'));
  await t.rejects(exportImage(image, { layout: join(dir, 'l'), archive }), {
    code: 'EUSAGE',
    message: /--oci-archive .*filter\.tar already exists; pass --force to overwrite it/,
  });
  t.equal(await readFile(archive, 'utf8'), 'precious');
  t.same((await readdir(dir)).sort(), ['filter.tar'], 'the layout was not written either');
  await exportImage(image, { archive }, { force: true });
  t.equal(
    (await verifyIstioImage(await readOciArchive(archive))).digest,
    image.digest,
    'overwritten with force',
  );
  for (const tag of ['a\nb', '', '.hidden', '-x', 'a'.repeat(129), 'a b', 'a/b'])
    await t.rejects(
      exportImage(image, { layout: join(dir, 'l2') }, { refName: tag }),
      { code: 'EUSAGE', message: /--tag .* is not a valid tag/ },
      JSON.stringify(tag),
    );
  t.equal(checkTag('v1.0_rc-1'), 'v1.0_rc-1');
  t.equal(checkTag('A'.repeat(128)), 'A'.repeat(128));
});

t.test('/proc/self/x fails fast with a usage error instead of spinning', async (t) => {
  const image = buildImage(sampleWasm('p'));
  for (const outputs of [
    { layout: '/proc/self/x' },
    { layout: '/proc/self/a/b' },
    { archive: '/proc/self/x.tar' },
  ]) {
    await t.rejects(
      exportImage(image, outputs),
      { code: 'EUSAGE', message: /cannot (create|write) \/proc\/self\/\S+ \(ENOENT\)/ },
      JSON.stringify(outputs),
    );
  }
});
