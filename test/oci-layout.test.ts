import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { buildImage } from '../oci/image.js';
import {
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

t.test('replaces an earlier layout, never a user directory, and leaves nothing half-written', async (t) => {
  const dir = await scratch(t);
  const layout = join(dir, 'layout');
  const first = buildImage(sampleWasm('first'));
  const second = buildImage(sampleWasm('second'));
  await writeOciLayout(layout, first);
  await writeOciLayout(layout, second);
  t.equal((await verifyIstioImage(await readOciLayout(layout))).digest, second.digest, 'replaced');
  t.equal((await readdir(join(layout, 'blobs', 'sha256'))).length, 3, 'old blobs are gone');

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
    code: 'ELAYOUT',
    message: /could not write/,
  });
  await t.rejects(writeOciArchive(join(precious, 'notes.txt', 'a.tar'), first), { code: 'ELAYOUT' });

  // exportImage: when the archive fails after the layout was made, the new layout is removed too.
  const fresh = join(dir, 'fresh-layout');
  await t.rejects(exportImage(first, { layout: fresh, archive: precious }), { code: 'ELAYOUT' });
  t.same((await readdir(dir)).sort(), ['layout', 'precious'], 'no temp siblings, no partial outputs');
});
