import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { digestHex } from './digest.js';
import { OciError } from './errors.js';
import type { WasmImage } from './image.js';
import { MediaType } from './media-types.js';
import { readTar, writeTar, type TarEntry } from './tar.js';
import { verifyIstioImage, type Descriptor, type ImageSource } from './verify.js';

/**
 * Offline output for air-gapped transfer: an OCI image layout directory (`oci:DIR:TAG` for
 * skopeo, `oras cp --from-oci-layout`, `crane push DIR`) and the same layout as one tar file
 * (`oci-archive:FILE:TAG`). Both are written to a temporary sibling and renamed into place, so
 * an interrupted or failed write never leaves a half-written layout behind.
 */

const REF_NAME = 'org.opencontainers.image.ref.name';

interface LayoutFile {
  path: string;
  data: Buffer;
}

function layoutFiles(image: WasmImage, refName: string): LayoutFile[] {
  const index = {
    schemaVersion: 2,
    mediaType: MediaType.ociIndex,
    manifests: [{ ...image.manifest.descriptor, annotations: { [REF_NAME]: refName } }],
  };
  const blobs = [image.manifest, ...image.blobs].map((b) => ({
    path: `blobs/sha256/${digestHex(b.descriptor.digest)}`,
    data: b.data,
  }));
  return [
    { path: 'oci-layout', data: Buffer.from(JSON.stringify({ imageLayoutVersion: '1.0.0' })) },
    { path: 'index.json', data: Buffer.from(JSON.stringify(index)) },
    ...blobs,
  ];
}

function tempSibling(target: string, what: string): string {
  return join(
    dirname(target),
    `.${basename(target)}.meshwasm-${what}-${process.pid}-${randomBytes(4).toString('hex')}`,
  );
}

async function statOrNull(path: string) {
  try {
    return await stat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/** Refuses to replace anything that is not empty and not an OCI layout: never clobber a user's directory. */
async function checkReplaceableDir(dir: string): Promise<boolean> {
  const st = await statOrNull(dir);
  if (!st) return false;
  if (!st.isDirectory()) throw new OciError('ELAYOUT', `--oci-layout ${dir} exists and is not a directory`);
  const names = await readdir(dir);
  if (names.length > 0 && !names.includes('oci-layout')) {
    throw new OciError(
      'ELAYOUT',
      `--oci-layout ${dir} is a non-empty directory that is not an OCI layout; choose another path`,
    );
  }
  return true;
}

function layoutError(target: string, err: unknown): OciError {
  if (err instanceof OciError) return err;
  return new OciError('ELAYOUT', `could not write ${target}: ${(err as Error).message}`, { cause: err });
}

/** Writes (or replaces) an OCI image layout holding just this image, tagged `refName`. */
export async function writeOciLayout(
  dir: string,
  image: WasmImage,
  options: { refName?: string } = {},
): Promise<string> {
  const target = resolve(dir);
  const tmp = tempSibling(target, 'tmp');
  let old: string | undefined;
  try {
    const exists = await checkReplaceableDir(target);
    await mkdir(dirname(target), { recursive: true });
    for (const file of layoutFiles(image, options.refName ?? 'latest')) {
      await mkdir(dirname(join(tmp, file.path)), { recursive: true });
      await writeFile(join(tmp, file.path), file.data);
    }
    if (exists) {
      old = tempSibling(target, 'old');
      await rename(target, old);
    }
    await rename(tmp, target);
  } catch (err) {
    await rm(tmp, { recursive: true, force: true }).catch(() => {});
    if (old) await rename(old, target).catch(() => {});
    throw layoutError(target, err);
  }
  if (old) await rm(old, { recursive: true, force: true });
  return target;
}

/** Writes the same layout as a single tar (skopeo's `oci-archive:` transport reads it). */
export async function writeOciArchive(
  file: string,
  image: WasmImage,
  options: { refName?: string } = {},
): Promise<string> {
  const target = resolve(file);
  const tmp = tempSibling(target, 'tmp');
  try {
    const st = await statOrNull(target);
    if (st?.isDirectory())
      throw new OciError('ELAYOUT', `--oci-archive ${target} is a directory; give a file path`);
    const entries: TarEntry[] = [
      { name: 'blobs', type: 'directory' },
      { name: 'blobs/sha256', type: 'directory' },
      ...layoutFiles(image, options.refName ?? 'latest').map((f): TarEntry => ({
        name: f.path,
        type: 'file',
        data: f.data,
      })),
    ];
    await mkdir(dirname(target), { recursive: true });
    await writeFile(tmp, writeTar(entries));
    await rename(tmp, target);
  } catch (err) {
    await rm(tmp, { force: true }).catch(() => {});
    throw layoutError(target, err);
  }
  return target;
}

interface IndexJson {
  manifests?: Array<Descriptor>;
}

function sourceFrom(
  where: string,
  read: (path: string) => Promise<Buffer>,
  refName?: string,
): Promise<ImageSource> {
  return (async () => {
    let index: IndexJson;
    try {
      index = JSON.parse((await read('index.json')).toString('utf8')) as IndexJson;
    } catch (err) {
      throw new OciError('ELAYOUT', `${where} has no readable index.json: ${(err as Error).message}`);
    }
    const manifests = index.manifests ?? [];
    const chosen = refName
      ? manifests.find((m) => m.annotations?.[REF_NAME] === refName)
      : manifests.length === 1
        ? manifests[0]
        : undefined;
    if (!chosen) {
      throw new OciError(
        'ELAYOUT',
        `${where} has no single image${refName ? ` tagged "${refName}"` : ''} in index.json`,
      );
    }
    const blobPath = (digest: string) => `blobs/${digest.replace(':', '/')}`;
    return {
      manifest: await read(blobPath(chosen.digest)),
      contentType: chosen.mediaType,
      fetchBlob: (d: Descriptor) => read(blobPath(d.digest)),
    };
  })();
}

/** Opens an image in a layout directory for verification (read-back after writing it). */
export function readOciLayout(dir: string, options: { refName?: string } = {}): Promise<ImageSource> {
  const root = resolve(dir);
  return sourceFrom(root, (path) => readFile(join(root, path)), options.refName);
}

/** Opens an image in an OCI archive (tar of a layout). */
export async function readOciArchive(file: string, options: { refName?: string } = {}): Promise<ImageSource> {
  const target = resolve(file);
  const files = new Map<string, Buffer>();
  for (const entry of readTar(await readFile(target))) {
    if (entry.type === 'file') files.set(entry.name.replace(/^\.\//, ''), entry.data);
  }
  return sourceFrom(
    target,
    async (path) => {
      const data = files.get(path);
      if (!data) throw new OciError('ELAYOUT', `${target} has no ${path}`);
      return data;
    },
    options.refName,
  );
}

export interface OfflineOutputs {
  layout?: string;
  archive?: string;
}

/**
 * Writes the requested offline outputs, then reads each one back and checks it with Istio's rules
 * and the expected digest, so `build` never reports a layout that a cluster would refuse.
 * Each output is atomic; if a later step fails, outputs this call created are removed again.
 */
export async function exportImage(
  image: WasmImage,
  outputs: OfflineOutputs,
  options: { refName?: string } = {},
): Promise<OfflineOutputs> {
  const written: OfflineOutputs = {};
  const created: Array<{ path: string; dir: boolean }> = [];
  const check = async (source: ImageSource, where: string) => {
    const verified = await verifyIstioImage(source);
    if (verified.digest !== image.digest) {
      throw new OciError('EDIGEST', `${where} holds ${verified.digest}, expected ${image.digest}`);
    }
  };
  try {
    if (outputs.layout) {
      const existed = (await statOrNull(resolve(outputs.layout))) !== null;
      written.layout = await writeOciLayout(outputs.layout, image, options);
      if (!existed) created.push({ path: written.layout, dir: true });
      await check(await readOciLayout(written.layout, options), written.layout);
    }
    if (outputs.archive) {
      const existed = (await statOrNull(resolve(outputs.archive))) !== null;
      written.archive = await writeOciArchive(outputs.archive, image, options);
      if (!existed) created.push({ path: written.archive, dir: false });
      await check(await readOciArchive(written.archive, options), written.archive);
    }
  } catch (err) {
    for (const c of created) await rm(c.path, { recursive: c.dir, force: true });
    throw err;
  }
  return written;
}
