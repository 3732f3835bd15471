import { randomBytes } from 'node:crypto';
import { lstat, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
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
 *
 * A layout that already exists is added to, as skopeo and oras do: the image's blobs join the
 * others and index.json gains its entry (replacing only an entry with the same tag), so other
 * images and unrelated files in it are never deleted. An archive is never overwritten unless the
 * caller says so (--force).
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

/** The distribution spec's tag grammar: what `--tag` may be (it also names the image in oci:DIR:TAG). */
const TAG = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;

export function checkTag(tag: string): string {
  if (!TAG.test(tag)) {
    throw new OciError(
      'EUSAGE',
      `--tag ${JSON.stringify(tag)} is not a valid tag; use up to 128 letters, digits, "_", "." or "-", not starting with "." or "-"`,
    );
  }
  return tag;
}

/**
 * mkdir -p one level at a time: Node's recursive mkdir spins forever where mkdir answers ENOENT
 * under an existing parent (/proc/self/x), so each level is created, and its failure reported, alone.
 */
async function makeDirectories(dir: string, flag: string): Promise<void> {
  const missing: string[] = [];
  for (let at = dir; ; at = dirname(at)) {
    const st = await statOrNull(at);
    if (st?.isDirectory()) break;
    if (st) throw new OciError('EUSAGE', `${flag}: ${at} is not a directory; choose another path`);
    missing.unshift(at);
    /* c8 ignore next -- the root always exists */
    if (dirname(at) === at) break;
  }
  for (const at of missing) {
    try {
      await mkdir(at);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') continue;
      throw new OciError(
        'EUSAGE',
        `${flag}: cannot create ${at} (${code ?? (err as Error).message}); choose a writable directory`,
        { cause: err },
      );
    }
  }
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
    // ENOTDIR: a file stands where a directory of the path would be; the caller names it.
    if (['ENOENT', 'ENOTDIR'].includes((err as NodeJS.ErrnoException).code ?? '')) return null;
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

/** Writes an OCI image layout holding this image tagged `refName`, or adds it to an existing one. */
export async function writeOciLayout(
  dir: string,
  image: WasmImage,
  options: { refName?: string } = {},
): Promise<string> {
  const target = resolve(dir);
  const refName = options.refName ?? 'latest';
  const st = await statOrNull(target);
  if (st?.isDirectory() && (await readdir(target)).includes('oci-layout')) {
    await addToLayout(target, image, refName);
    return target;
  }
  const tmp = tempSibling(target, 'tmp');
  let old: string | undefined;
  try {
    const exists = await checkReplaceableDir(target);
    await makeDirectories(dirname(target), '--oci-layout');
    // Not recursive: see makeDirectories (the temp sibling's parent exists by now).
    try {
      await mkdir(tmp);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new OciError(
        'EUSAGE',
        `--oci-layout: cannot create ${target} (${code}); choose a writable directory`,
        {
          cause: err,
        },
      );
    }
    for (const file of layoutFiles(image, refName)) {
      await mkdir(dirname(join(tmp, file.path)), { recursive: true });
      await writeFile(join(tmp, file.path), file.data);
    }
    // Only an empty directory gets here (checkReplaceableDir): it is replaced by the new layout.
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

/** A path inside an existing layout that must be a real directory or file, not a link out of it. */
async function checkInside(path: string, kind: 'directory' | 'file'): Promise<boolean> {
  let st;
  try {
    st = await lstat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
  if (kind === 'directory' ? !st.isDirectory() : !st.isFile()) {
    throw new OciError(
      'ELAYOUT',
      `--oci-layout: ${path} is ${st.isSymbolicLink() ? 'a symbolic link' : `not a ${kind}`}; meshwasm does not write through it`,
    );
  }
  return true;
}

/** Adds the image's blobs and index entry to an existing layout; nothing already there is removed. */
async function addToLayout(root: string, image: WasmImage, refName: string): Promise<void> {
  const indexPath = join(root, 'index.json');
  let index: { manifests?: unknown } & Record<string, unknown>;
  try {
    await checkInside(indexPath, 'file');
    index = JSON.parse(await readFile(indexPath, 'utf8')) as typeof index;
    if (typeof index !== 'object' || index === null || !Array.isArray(index.manifests ?? []))
      throw new Error('no manifests list');
  } catch (err) {
    if (err instanceof OciError) throw err;
    throw new OciError(
      'ELAYOUT',
      `--oci-layout ${root} has an oci-layout file but no readable index.json (${(err as Error).message}); refusing to change it`,
    );
  }
  const blobDir = join(root, 'blobs', 'sha256');
  try {
    for (const dir of [join(root, 'blobs'), blobDir])
      if (!(await checkInside(dir, 'directory'))) await mkdir(dir);
    for (const blob of [image.manifest, ...image.blobs]) {
      const path = join(blobDir, digestHex(blob.descriptor.digest));
      // Content-addressed: a blob already there under this name is this blob (read-back checks it).
      if (await checkInside(path, 'file')) continue;
      const tmp = tempSibling(path, 'blob');
      await writeFile(tmp, blob.data, { flag: 'wx' });
      await rename(tmp, path);
    }
    const others = ((index.manifests as Descriptor[] | undefined) ?? []).filter(
      (m) => m.annotations?.[REF_NAME] !== refName,
    );
    const updated = {
      schemaVersion: 2,
      mediaType: MediaType.ociIndex,
      ...index,
      manifests: [...others, { ...image.manifest.descriptor, annotations: { [REF_NAME]: refName } }],
    };
    const tmp = tempSibling(indexPath, 'index');
    await writeFile(tmp, JSON.stringify(updated), { flag: 'wx' });
    await rename(tmp, indexPath);
  } catch (err) {
    throw layoutError(root, err);
  }
}

/** Writes the same layout as a single tar (skopeo's `oci-archive:` transport reads it). */
export async function writeOciArchive(
  file: string,
  image: WasmImage,
  options: { refName?: string; force?: boolean } = {},
): Promise<string> {
  const target = resolve(file);
  const tmp = tempSibling(target, 'tmp');
  try {
    const st = await statOrNull(target);
    if (st?.isDirectory())
      throw new OciError('ELAYOUT', `--oci-archive ${target} is a directory; give a file path`);
    if (st && !options.force)
      throw new OciError('EUSAGE', `--oci-archive ${target} already exists; pass --force to overwrite it`);
    const entries: TarEntry[] = [
      { name: 'blobs', type: 'directory' },
      { name: 'blobs/sha256', type: 'directory' },
      ...layoutFiles(image, options.refName ?? 'latest').map((f): TarEntry => ({
        name: f.path,
        type: 'file',
        data: f.data,
      })),
    ];
    await makeDirectories(dirname(target), '--oci-archive');
    await writeFile(tmp, writeTar(entries)).catch((err: NodeJS.ErrnoException) => {
      throw new OciError(
        'EUSAGE',
        `--oci-archive: cannot write ${target} (${err.code}); choose a writable path`,
        {
          cause: err,
        },
      );
    });
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
  options: { refName?: string; force?: boolean } = {},
): Promise<OfflineOutputs> {
  if (options.refName !== undefined) checkTag(options.refName);
  // Refused before anything is written, so a refused archive leaves no new layout behind either.
  if (outputs.archive && !options.force && (await statOrNull(resolve(outputs.archive)))?.isFile())
    throw new OciError(
      'EUSAGE',
      `--oci-archive ${resolve(outputs.archive)} already exists; pass --force to overwrite it`,
    );
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
