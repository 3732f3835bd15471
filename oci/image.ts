import { sha256Digest, sha256Hex } from './digest.js';
import { deterministicGzip } from './gzip.js';
import { MediaType } from './media-types.js';
import { writeTar } from './tar.js';
import { checkWasmBinary, PLUGIN_FILE, type Descriptor } from './verify.js';

/**
 * The two image shapes Istio's fetcher (and Envoy Gateway's copy of it) accepts that we can
 * produce without a container engine:
 * - `compat` (default): a plain OCI image, one tar+gzip layer holding plugin.wasm. Every
 *   registry, skopeo/crane/oras and both meshes accept it.
 * - `artifact`: solo-io's 2-layer "oci" variant, the raw module under
 *   application/vnd.module.wasm.content.layer.v1+wasm plus a runtime-config layer. Istio insists
 *   on exactly two layers here, which is the error users hit most with hand-made artifacts.
 */
export const IMAGE_FORMATS = ['compat', 'artifact'] as const;
export type ImageFormat = (typeof IMAGE_FORMATS)[number];

export interface ImageBlob {
  descriptor: Descriptor;
  data: Buffer;
}

export interface WasmImage {
  format: ImageFormat;
  /** Manifest digest: what a registry, WasmPlugin `sha256` and EEP `image.sha256` refer to. */
  digest: string;
  manifest: ImageBlob;
  config: ImageBlob;
  layers: ImageBlob[];
  /** Config and layers, each digest once, in the order a push should upload them. */
  blobs: ImageBlob[];
  /** sha256 hex of plugin.wasm itself (what an EnvoyFilter http source must carry). */
  wasmSha256: string;
}

function blob(mediaType: string, data: Buffer, annotations?: Record<string, string>): ImageBlob {
  const descriptor: Descriptor = { mediaType, digest: sha256Digest(data), size: data.length };
  if (annotations) descriptor.annotations = annotations;
  return { descriptor, data };
}

/** JSON with a fixed key order (object literal order) and no whitespace, so bytes are stable. */
function json(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value), 'utf8');
}

function compatBlobs(wasm: Buffer): {
  config: ImageBlob;
  layers: ImageBlob[];
  annotations: Record<string, string>;
} {
  const tar = writeTar([{ name: PLUGIN_FILE, type: 'file', data: wasm }]);
  const layer = blob(MediaType.ociLayerTarGzip, deterministicGzip(tar));
  // A valid OCI image config. No `created` or history: timestamps would break reproducibility.
  // wasi/wasm is the platform the container ecosystem uses for Wasm images; Istio ignores it.
  const config = blob(
    MediaType.ociConfig,
    json({
      architecture: 'wasm',
      os: 'wasi',
      config: {},
      rootfs: { type: 'layers', diff_ids: [sha256Digest(tar)] },
    }),
  );
  // The compat spec asks OCI-layer images to say which variant they are.
  return { config, layers: [layer], annotations: { 'module.wasm.image/variant': 'compat' } };
}

function artifactBlobs(wasm: Buffer): {
  config: ImageBlob;
  layers: ImageBlob[];
  annotations?: Record<string, string>;
} {
  const runtimeConfig = json({ type: 'envoy_proxy', config: {} });
  const config = blob(MediaType.wasmModuleConfig, runtimeConfig);
  const layers = [
    blob(MediaType.wasmModuleConfig, runtimeConfig, {
      'org.opencontainers.image.title': 'runtime-config.json',
    }),
    blob(MediaType.wasmModuleContent, wasm, { 'org.opencontainers.image.title': PLUGIN_FILE }),
  ];
  return { config, layers };
}

/** Packages a module; the same bytes and format always give the same digest. */
export function buildImage(wasmBytes: Uint8Array, options: { format?: ImageFormat } = {}): WasmImage {
  const format = options.format ?? 'compat';
  const wasm = Buffer.from(wasmBytes);
  checkWasmBinary(wasm, 'the module to package');
  const { config, layers, annotations } = format === 'compat' ? compatBlobs(wasm) : artifactBlobs(wasm);
  const manifest = blob(
    MediaType.ociManifest,
    json({
      schemaVersion: 2,
      mediaType: MediaType.ociManifest,
      config: config.descriptor,
      layers: layers.map((l) => l.descriptor),
      ...(annotations ? { annotations } : {}),
    }),
  );
  const blobs: ImageBlob[] = [];
  for (const b of [...layers, config]) {
    if (!blobs.some((seen) => seen.descriptor.digest === b.descriptor.digest)) blobs.push(b);
  }
  return {
    format,
    digest: manifest.descriptor.digest,
    manifest,
    config,
    layers,
    blobs,
    wasmSha256: sha256Hex(wasm),
  };
}
