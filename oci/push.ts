import type { CredentialOptions } from './credentials.js';
import { sha256Hex } from './digest.js';
import { OciError } from './errors.js';
import { buildImage, type ImageFormat, type WasmImage } from './image.js';
import { recordPush } from './push-record.js';
import { formatReference, parseReference, type ImageReference } from './reference.js';
import { registryClientFor } from './client-for.js';
import type { RegistryClient } from './registry.js';
import { verifyIstioImage, type IstioVariant } from './verify.js';

/**
 * `meshwasm push`: package, upload what the registry lacks, PUT the manifest, then read the image
 * back exactly as Istio's agent would (manifest by tag, layers by digest, Istio's layout rules,
 * the module's bytes) before declaring success and recording the push locally.
 */
export interface PushOptions {
  format?: ImageFormat;
  insecure?: boolean;
  credentials?: CredentialOptions;
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
  /** Overall deadline of the whole push (every request, the read-back included). */
  deadlineMs?: number;
  onProgress?: (message: string) => void;
}

export interface PushResult {
  digest: string;
  /** `registry/repository[:tag]@digest` */
  reference: string;
  variant: IstioVariant;
  uploaded: number;
  alreadyPresent: number;
  wasmSha256: string;
}

async function readBack(
  client: RegistryClient,
  ref: ImageReference,
  image: WasmImage,
  target: string,
): Promise<IstioVariant> {
  const remote = await client.getManifest(ref.repository, target, 'pull,push');
  if (remote.digest !== image.digest) {
    throw new OciError(
      'EDIGEST',
      `read-back of ${formatReference(ref)} returned manifest ${remote.digest}, but ${image.digest} was pushed`,
    );
  }
  const verified = await verifyIstioImage({
    manifest: remote.data,
    contentType: remote.mediaType,
    fetchBlob: (d) => client.getBlob(ref.repository, d.digest, 'pull,push', d.size),
  });
  if (sha256Hex(verified.wasm) !== image.wasmSha256) {
    throw new OciError(
      'EDIGEST',
      `read-back of ${formatReference(ref)} returned a plugin.wasm that differs from the one pushed`,
    );
  }
  return verified.variant;
}

export async function pushWasm(
  reference: string,
  wasm: Uint8Array,
  options: PushOptions = {},
): Promise<PushResult> {
  const ref = parseReference(reference);
  const env = options.env ?? process.env;
  const progress = options.onProgress ?? (() => {});
  const image = buildImage(wasm, { format: options.format });
  if (ref.digest && ref.digest !== image.digest) {
    throw new OciError(
      'EUSAGE',
      `${reference} names digest ${ref.digest}, but this module packages as ${image.digest}`,
    );
  }
  const target = ref.tag ?? image.digest;
  const client = registryClientFor(ref, options);
  try {
    const before = ref.tag ? await client.headManifest(ref.repository, ref.tag, 'pull,push') : null;
    let uploaded = 0;
    let alreadyPresent = 0;
    for (const blob of image.blobs) {
      const { digest, size } = blob.descriptor;
      if (await client.blobExists(ref.repository, digest, 'pull,push')) {
        alreadyPresent++;
        progress(`blob ${digest} already present`);
        continue;
      }
      await client.uploadBlob(ref.repository, blob);
      uploaded++;
      progress(`uploaded blob ${digest} (${size} bytes)`);
    }
    const reported = await client.putManifest(ref.repository, target, image.manifest);
    if (reported && reported !== image.digest) {
      throw new OciError(
        'EDIGEST',
        `registry ${ref.registry} stored the manifest as ${reported}, but its bytes hash to ${image.digest}`,
      );
    }
    progress(`pushed manifest ${image.digest}`);

    let variant: IstioVariant;
    try {
      variant = await readBack(client, ref, image, target);
    } catch (err) {
      throw await undoBadPush(client, ref, image, before?.digest, err);
    }
    progress(`verified ${formatReference(ref)} as Istio's "${variant}" variant`);

    const result: PushResult = {
      digest: image.digest,
      reference: formatReference({ ...ref, digest: image.digest }),
      variant,
      uploaded,
      alreadyPresent,
      wasmSha256: image.wasmSha256,
    };
    await recordPush(
      {
        registry: ref.registry,
        repository: ref.repository,
        ...(ref.tag ? { tag: ref.tag } : {}),
        digest: image.digest,
        wasmSha256: image.wasmSha256,
        format: image.format,
        pushedAt: new Date().toISOString(),
      },
      { env },
    );
    return result;
  } finally {
    client.close();
  }
}

/**
 * A manifest that failed read-back is withdrawn when the tag did not exist before (so the
 * registry is left as it was); if the tag pointed elsewhere, the error names the old digest so
 * it can be restored, since re-pointing a tag needs that manifest's bytes.
 */
async function undoBadPush(
  client: RegistryClient,
  ref: ImageReference,
  image: WasmImage,
  previous: string | undefined,
  err: unknown,
): Promise<unknown> {
  if (!(err instanceof OciError)) return err;
  let note: string;
  if (previous === image.digest) {
    note = 'the tag already pointed at this digest before the push';
  } else if (previous) {
    note = `${formatReference(ref)} pointed at ${previous} before this push; re-tag it to restore`;
  } else {
    const deleted = await client.deleteManifest(ref.repository, image.digest).catch(() => false);
    note = deleted
      ? 'the unverified manifest was deleted again'
      : 'the registry did not allow deleting the unverified manifest';
  }
  return new OciError(err.code, `${err.message} (${note})`, { cause: err });
}
