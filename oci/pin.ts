import type { CredentialOptions } from './credentials.js';
import { isSha256Digest } from './digest.js';
import { OciError } from './errors.js';
import { findPush } from './push-record.js';
import { formatReference, parseReference, type ImageReference } from './reference.js';
import { registryClientFor } from './client-for.js';

/**
 * Turns `registry/repo:tag` into `registry/repo:tag@sha256:…` so rendered manifests name exactly
 * one image: WasmPlugin/EEP `sha256` fields and `@digest` URLs must carry the manifest digest,
 * and a tag alone lets the cluster pull whatever was pushed last. The registry is asked first
 * (HEAD, falling back to GET when it does not send Docker-Content-Digest); when it cannot be
 * reached or refuses us, the digest recorded by this machine's last push of that tag is used.
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

async function digestFromRegistry(
  ref: ImageReference,
  tag: string,
  options: PinOptions,
): Promise<string | null> {
  const client = registryClientFor(ref, options);
  try {
    const head = await client.headManifest(ref.repository, tag);
    if (!head) return null;
    if (head.digest && isSha256Digest(head.digest)) return head.digest;
    return (await client.getManifest(ref.repository, tag)).digest;
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
