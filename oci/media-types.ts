/** Media types meshwasm writes or must recognise when reading an image back. */
export const MediaType = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayerTarGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociLayerTarZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerLayerTarGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  // solo-io "oci" variant (Istio's 2-layer rule): raw wasm plus a runtime-config layer.
  wasmModuleContent: 'application/vnd.module.wasm.content.layer.v1+wasm',
  wasmModuleConfig: 'application/vnd.module.wasm.config.v1+json',
  // CNCF wasm artifact: Istio does NOT accept it; recognised only to explain the rejection.
  cncfWasmContent: 'application/vnd.wasm.content.layer.v1+wasm',
} as const;

/** What we ask a registry for when reading a manifest: the single-image kinds, plus indexes so we can name them in an error. */
export const MANIFEST_ACCEPT = [
  MediaType.ociManifest,
  MediaType.dockerManifest,
  MediaType.ociIndex,
  MediaType.dockerManifestList,
].join(', ');
