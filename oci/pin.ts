import type { CredentialOptions } from './credentials.js';
import { isSha256Digest } from './digest.js';
import { OciError } from './errors.js';
import { findPush } from './push-record.js';
import { formatReference, parseReference, type ImageReference } from './reference.js';
import { registryClientFor } from './client-for.js';
import { MediaType } from './media-types.js';
import type { RemoteManifest } from './registry.js';

/**
 * Turns `registry/repo:tag` into `registry/repo:tag@sha256:…` so rendered manifests name exactly
 * one image: WasmPlugin/EEP `sha256` fields and `@digest` URLs must carry the manifest digest,
 * and a tag alone lets the cluster pull whatever was pushed last. The registry is asked first;
 * when it cannot be reached (within the overall deadline) or refuses us, the digest recorded by
 * this machine's last push of that tag is used.
 *
 * Only a digest computed from the bytes received is pinned: the manifest is fetched (at most
 * 4 MiB) and hashed here, and a Docker-Content-Digest header that disagrees with the bytes fails
 * the pin instead of being believed. A multi-platform index is resolved the way Istio's agent
 * resolves it (go-containerregistry picks the linux/amd64 child), and the digest pinned is that
 * child image manifest's: the agent compares `sha256` with the digest of the image it resolved,
 * not with the index's, so pinning the index digest would make every pull fail its checksum.
 */
export interface PinnedImage {
  registry: string;
  repository: string;
  tag?: string;
  digest: string;
  /** `registry/repository[:tag]@digest` */
  reference: string;
  source: 'reference' | 'registry' | 'push-record';
  /** sha256 hex of plugin.wasm, when known from a recorded push of this digest. */
  wasmSha256?: string;
}

export interface PinOptions {
  insecure?: boolean;
  credentials?: CredentialOptions;
  /** Do not contact the registry; use only the push record. */
  offline?: boolean;
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
  /** Overall deadline of the pin's registry work (default 60 s). */
  deadlineMs?: number;
  /** Told when the registry could not be asked and the push record was used instead. */
  onWarning?: (message: string) => void;
}

function pinned(
  ref: ImageReference,
  digest: string,
  source: PinnedImage['source'],
  wasmSha256?: string,
): PinnedImage {
  const base = { registry: ref.registry, repository: ref.repository, ...(ref.tag ? { tag: ref.tag } : {}) };
  return {
    ...base,
    digest,
    reference: formatReference({ ...base, digest }),
    source,
    ...(wasmSha256 ? { wasmSha256 } : {}),
  };
}

/** What Istio's agent (go-containerregistry's default platform) resolves an index to. */
const ISTIO_PLATFORM = { os: 'linux', architecture: 'amd64' };
const INDEX_TYPES = new Set<string>([MediaType.ociIndex, MediaType.dockerManifestList]);

interface IndexDocument {
  mediaType?: string;
  manifests?: Array<{ digest?: unknown; platform?: { os?: unknown; architecture?: unknown } }>;
}

function asIndex(manifest: RemoteManifest): IndexDocument | null {
  let parsed: IndexDocument;
  try {
    parsed = JSON.parse(manifest.data.toString('utf8')) as IndexDocument;
  } catch {
    return null; // not JSON: verified later by whoever reads the image
  }
  const mediaType = parsed?.mediaType ?? manifest.mediaType;
  return INDEX_TYPES.has(mediaType) || (parsed?.manifests !== undefined && !('layers' in parsed))
    ? parsed
    : null;
}

async function digestFromRegistry(
  ref: ImageReference,
  tag: string,
  options: PinOptions,
): Promise<string | null> {
  const client = registryClientFor(ref, options);
  const name = formatReference(ref);
  try {
    let manifest: RemoteManifest;
    try {
      manifest = await client.getManifest(ref.repository, tag);
    } catch (err) {
      if (err instanceof OciError && err.code === 'ENOTFOUND') return null;
      throw err;
    }
    const index = asIndex(manifest);
    if (!index) return manifest.digest;
    const child = (index.manifests ?? []).find(
      (m) =>
        m.platform?.os === ISTIO_PLATFORM.os &&
        m.platform?.architecture === ISTIO_PLATFORM.architecture &&
        typeof m.digest === 'string' &&
        isSha256Digest(m.digest),
    );
    if (!child) {
      throw new OciError(
        'EPIN',
        `cannot pin ${name}: it is an image index (${manifest.digest}) without a linux/amd64 image, ` +
          "and Istio's agent resolves an index only to that platform; push a single-image manifest (meshwasm push)",
      );
    }
    // getManifest by digest checks the bytes against it.
    const image = await client.getManifest(ref.repository, child.digest as string);
    options.onWarning?.(
      `${name} is an image index (${manifest.digest}); pinned its linux/amd64 image ${image.digest}, ` +
        "because Istio's agent resolves an index to that platform and compares sha256 with that image's manifest digest",
    );
    return image.digest;
  } finally {
    client.close();
  }
}

export async function pinImageReference(
  input: string | ImageReference,
  options: PinOptions = {},
): Promise<PinnedImage> {
  const ref = typeof input === 'string' ? parseReference(input) : input;
  const env = options.env ?? process.env;
  const record = await findPush(ref, { env });
  if (ref.digest) {
    return pinned(
      ref,
      ref.digest,
      'reference',
      record?.digest === ref.digest ? record.wasmSha256 : undefined,
    );
  }
  const tag = ref.tag ?? 'latest';
  const name = formatReference(ref);

  let registryProblem: string;
  if (options.offline) {
    registryProblem = 'the registry was not asked (offline)';
  } else {
    try {
      const digest = await digestFromRegistry(ref, tag, options);
      if (digest === null) {
        throw new OciError(
          'EPIN',
          `cannot pin ${name}: the tag does not exist in ${ref.registry}; push it first (meshwasm push ${name})`,
        );
      }
      return pinned(ref, digest, 'registry', record?.digest === digest ? record.wasmSha256 : undefined);
    } catch (err) {
      if (!(err instanceof OciError) || !['EUNREACHABLE', 'EAUTH', 'EPROTOCOL'].includes(err.code)) throw err;
      registryProblem = err.message;
    }
  }

  if (record) {
    options.onWarning?.(
      `${registryProblem}; using the digest recorded when this machine pushed ${name} at ${record.pushedAt}`,
    );
    return pinned(ref, record.digest, 'push-record', record.wasmSha256);
  }
  throw new OciError(
    'EPIN',
    `cannot pin ${name} to a digest: ${registryProblem}, and this machine has no recorded push of it. ` +
      'Pass REF@sha256:<digest>, or run meshwasm push first',
  );
}
