import { posix } from 'node:path';
import { sha256Digest } from './digest.js';
import { OciError } from './errors.js';
import { gunzip } from './gzip.js';
import { MediaType } from './media-types.js';
import { readTar } from './tar.js';

/**
 * The checks Istio's agent (and Envoy Gateway's copy of its fetcher) apply when it pulls a Wasm
 * image, in the order it applies them (istio/istio pkg/wasm/imagefetcher.go, read and restated
 * here, not copied): a Docker schema-2 image whose last layer is a docker tar.gzip; else an OCI
 * image whose last layer is an OCI tar+gzip holding plugin.wasm ("compat"); else exactly two
 * layers, one of them the raw module ("oci" variant). Then the module itself must start with
 * the \0asm magic and be at least 8 bytes. Running them on what a registry or a layout gives
 * back is how `push` and `build` prove the image will load before anyone deploys it.
 */

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
}

export interface ManifestJson {
  schemaVersion?: number;
  mediaType?: string;
  config?: Descriptor;
  layers?: Descriptor[];
  manifests?: unknown[];
  annotations?: Record<string, string>;
}

export type IstioVariant = 'docker' | 'compat' | 'oci';

export interface ImageSource {
  /** Raw manifest bytes exactly as stored (their sha256 is the image digest). */
  manifest: Uint8Array;
  /** Content-Type the registry sent, if any; the manifest's own mediaType wins when present. */
  contentType?: string;
  fetchBlob(descriptor: Descriptor): Promise<Uint8Array>;
}

export interface VerifiedImage {
  digest: string;
  variant: IstioVariant;
  manifest: ManifestJson;
  wasm: Buffer;
}

export const PLUGIN_FILE = 'plugin.wasm';
const WASM_MAGIC = Buffer.from([0x00, 0x61, 0x73, 0x6d]);
/** Istio's default ISTIO_WASM_MAX_BINARY_SIZE_BYTES. */
export const MAX_WASM_BYTES = 256 * 1024 * 1024;

/** Throws OciError('EWASM') unless `bytes` could be a WebAssembly module Istio would load. */
export function checkWasmBinary(bytes: Uint8Array, label: string): void {
  if (bytes.length < 8 || !WASM_MAGIC.equals(Buffer.from(bytes.subarray(0, 4)))) {
    throw new OciError(
      'EWASM',
      `${label} is not a WebAssembly module (it must start with the \\0asm magic and be at least 8 bytes)`,
    );
  }
  if (bytes.length > MAX_WASM_BYTES) {
    throw new OciError(
      'EWASM',
      `${label} is ${bytes.length} bytes; Istio refuses modules over ${MAX_WASM_BYTES} bytes`,
    );
  }
}

function parseManifest(bytes: Uint8Array): ManifestJson {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    throw new OciError('EVERIFY', 'the manifest is not valid JSON');
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new OciError('EVERIFY', 'the manifest is not a JSON object');
  }
  return parsed as ManifestJson;
}

async function fetchChecked(source: ImageSource, d: Descriptor): Promise<Buffer> {
  const data = Buffer.from(await source.fetchBlob(d));
  const actual = sha256Digest(data);
  if (actual !== d.digest || data.length !== d.size) {
    throw new OciError(
      'EDIGEST',
      `blob ${d.digest} came back as ${data.length} bytes hashing to ${actual} (manifest says ${d.size} bytes)`,
    );
  }
  return data;
}

async function pluginFromTarGzip(source: ImageSource, layer: Descriptor): Promise<Buffer> {
  const compressed = await fetchChecked(source, layer);
  let tar: Buffer;
  try {
    tar = gunzip(compressed);
  } catch (err) {
    throw new Error(`failed to parse layer as tar.gz: ${(err as Error).message}`, { cause: err });
  }
  for (const entry of readTar(tar)) {
    if (posix.basename(entry.name) === PLUGIN_FILE) return entry.data;
  }
  throw new Error(`${PLUGIN_FILE} not found in the archive`);
}

async function fromLastTarGzipLayer(
  source: ImageSource,
  layers: Descriptor[],
  expected: string,
): Promise<Buffer> {
  if (layers.length === 0) throw new Error('number of layers must be greater than zero');
  const last = layers[layers.length - 1];
  if (last.mediaType !== expected)
    throw new Error(`invalid media type ${last.mediaType} (expect ${expected})`);
  return pluginFromTarGzip(source, last);
}

async function fromWasmArtifact(source: ImageSource, layers: Descriptor[]): Promise<Buffer> {
  if (layers.length !== 2) throw new Error(`number of layers must be 2 but got ${layers.length}`);
  const layer = layers.find((l) => l.mediaType === MediaType.wasmModuleContent);
  if (!layer) throw new Error(`could not find the layer of type ${MediaType.wasmModuleContent}`);
  return fetchChecked(source, layer);
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Applies Istio's rules; throws OciError('EVERIFY' | 'EDIGEST' | 'EWASM') naming the rule that failed. */
export async function verifyIstioImage(source: ImageSource): Promise<VerifiedImage> {
  const manifest = parseManifest(source.manifest);
  const digest = sha256Digest(source.manifest);
  const mediaType = manifest.mediaType ?? source.contentType ?? '';
  if (
    mediaType === MediaType.ociIndex ||
    mediaType === MediaType.dockerManifestList ||
    Array.isArray(manifest.manifests)
  ) {
    throw new OciError(
      'EVERIFY',
      `${digest} is an image index (multi-platform list); Istio's fetcher needs a single image manifest`,
    );
  }
  if (manifest.schemaVersion !== 2 || !Array.isArray(manifest.layers)) {
    throw new OciError('EVERIFY', `${digest} is not a schema-2 image manifest with a layers list`);
  }
  const layers = manifest.layers;

  let wasm: Buffer;
  let variant: IstioVariant;
  if (mediaType === MediaType.dockerManifest) {
    try {
      wasm = await fromLastTarGzipLayer(source, layers, MediaType.dockerLayerTarGzip);
      variant = 'docker';
    } catch (err) {
      if (err instanceof OciError) throw err;
      throw new OciError('EVERIFY', `Istio would reject ${digest} as a Docker image: ${message(err)}`);
    }
  } else {
    try {
      wasm = await fromLastTarGzipLayer(source, layers, MediaType.ociLayerTarGzip);
      variant = 'compat';
    } catch (compatErr) {
      if (compatErr instanceof OciError) throw compatErr;
      try {
        wasm = await fromWasmArtifact(source, layers);
        variant = 'oci';
      } catch (ociErr) {
        if (ociErr instanceof OciError) throw ociErr;
        throw new OciError(
          'EVERIFY',
          `Istio would reject ${digest}: could not parse as compat variant: ${message(compatErr)}; ` +
            `could not parse as oci variant: ${message(ociErr)}`,
        );
      }
    }
  }
  checkWasmBinary(wasm, `the ${PLUGIN_FILE} in ${digest}`);
  return { digest, variant, manifest, wasm };
}
