import t from 'tap';
import { sha256Digest, sha256Hex } from '../oci/digest.js';
import { deterministicGzip, gunzip } from '../oci/gzip.js';
import { buildImage, type WasmImage } from '../oci/image.js';
import { MediaType } from '../oci/media-types.js';
import { readTar, writeTar } from '../oci/tar.js';
import { verifyIstioImage, type Descriptor, type ImageSource } from '../oci/verify.js';
import { sampleWasm } from './helpers/registry-fixtures.js';

const wasm = sampleWasm();

function memorySource(manifest: object | Buffer, blobs: Buffer[], contentType?: string): ImageSource {
  const byDigest = new Map(blobs.map((b) => [sha256Digest(b), b]));
  return {
    manifest: Buffer.isBuffer(manifest) ? manifest : Buffer.from(JSON.stringify(manifest)),
    contentType,
    fetchBlob: async (d: Descriptor) => {
      const b = byDigest.get(d.digest);
      if (!b) throw new Error(`no blob ${d.digest}`);
      return b;
    },
  };
}

function sourceOf(image: WasmImage): ImageSource {
  return memorySource(
    image.manifest.data,
    image.blobs.map((b) => b.data),
  );
}

const desc = (mediaType: string, data: Buffer): Descriptor => ({
  mediaType,
  digest: sha256Digest(data),
  size: data.length,
});
const tarGz = (name: string, data: Buffer) => deterministicGzip(writeTar([{ name, type: 'file', data }]));

t.test('default image: one OCI tar+gzip layer holding plugin.wasm', async (t) => {
  const image = buildImage(wasm);
  const manifest = JSON.parse(image.manifest.data.toString());
  t.equal(manifest.schemaVersion, 2);
  t.equal(manifest.mediaType, MediaType.ociManifest);
  t.equal(manifest.config.mediaType, MediaType.ociConfig);
  t.equal(manifest.layers.length, 1);
  t.equal(manifest.layers[0].mediaType, MediaType.ociLayerTarGzip);
  t.same(manifest.annotations, { 'module.wasm.image/variant': 'compat' });
  t.equal(image.digest, sha256Digest(image.manifest.data));
  const tar = gunzip(image.layers[0].data);
  t.same(
    readTar(tar).map((e) => [e.name, e.data]),
    [['plugin.wasm', wasm]],
  );
  const config = JSON.parse(image.config.data.toString());
  t.same(
    config.rootfs,
    { type: 'layers', diff_ids: [sha256Digest(tar)] },
    'diff_id is the uncompressed layer',
  );
  t.equal(image.wasmSha256, sha256Hex(wasm));
  const verified = await verifyIstioImage(sourceOf(image));
  t.equal(verified.variant, 'compat');
  t.same(verified.wasm, wasm);
  t.equal(verified.digest, image.digest);
});

t.test('artifact image: exactly two layers, the raw module under the wasm media type', async (t) => {
  const image = buildImage(wasm, { format: 'artifact' });
  const manifest = JSON.parse(image.manifest.data.toString());
  t.same(
    manifest.layers.map((l: Descriptor) => l.mediaType),
    [MediaType.wasmModuleConfig, MediaType.wasmModuleContent],
  );
  t.same(image.layers[1].data, wasm, 'not compressed');
  t.equal(image.blobs.length, 2, 'the runtime config is one blob used as config and first layer');
  const verified = await verifyIstioImage(sourceOf(image));
  t.equal(verified.variant, 'oci');
  t.same(verified.wasm, wasm);
});

t.test('deterministic: same module and format, same digest', async (t) => {
  for (const format of ['compat', 'artifact'] as const) {
    const a = buildImage(Buffer.from(wasm), { format });
    const b = buildImage(Buffer.from(wasm), { format });
    t.equal(a.digest, b.digest, format);
    t.same(a.manifest.data, b.manifest.data);
  }
  t.not(buildImage(wasm).digest, buildImage(wasm, { format: 'artifact' }).digest);
  t.not(buildImage(sampleWasm('one')).digest, buildImage(sampleWasm('two')).digest);
});

t.test('refuses to package bytes that are not a module', async (t) => {
  t.throws(() => buildImage(Buffer.from('#!/bin/sh\necho hi\n')), { code: 'EWASM', message: /\\0asm magic/ });
  t.throws(() => buildImage(Buffer.from('\0asm')), { code: 'EWASM', message: /at least 8 bytes/ });
});

t.test("Istio's fetcher rules on read-back", async (t) => {
  const configBlob = Buffer.from('{}');
  const config = desc(MediaType.ociConfig, configBlob);
  const image = (layers: Array<[string, Buffer]>, mediaType: string = MediaType.ociManifest, extra = {}) =>
    memorySource(
      { schemaVersion: 2, mediaType, config, layers: layers.map(([mt, data]) => desc(mt, data)), ...extra },
      [configBlob, ...layers.map(([, data]) => data)],
    );

  await t.rejects(
    verifyIstioImage(image([[MediaType.cncfWasmContent, wasm]])),
    {
      code: 'EVERIFY',
      message:
        /invalid media type application\/vnd\.wasm\.content\.layer\.v1\+wasm.*number of layers must be 2 but got 1/,
    },
    'the CNCF single-layer artifact is what Istio rejects in the field',
  );
  await t.rejects(
    verifyIstioImage(
      image([
        [MediaType.wasmModuleConfig, configBlob],
        [MediaType.wasmModuleContent, wasm],
        [MediaType.wasmModuleConfig, configBlob],
      ]),
    ),
    { code: 'EVERIFY', message: /number of layers must be 2 but got 3/ },
  );
  await t.rejects(
    verifyIstioImage(
      image([
        [MediaType.wasmModuleConfig, configBlob],
        [MediaType.ociConfig, configBlob],
      ]),
    ),
    {
      message: /could not find the layer of type application\/vnd\.module\.wasm\.content\.layer\.v1\+wasm/,
    },
  );
  await t.rejects(verifyIstioImage(image([[MediaType.ociLayerTarGzip, tarGz('filter.wasm', wasm)]])), {
    code: 'EVERIFY',
    message: /plugin\.wasm not found in the archive/,
  });
  await t.rejects(
    verifyIstioImage(
      image([[MediaType.ociLayerTarGzip, writeTar([{ name: 'plugin.wasm', type: 'file', data: wasm }])]]),
    ),
    {
      message: /failed to parse layer as tar\.gz/,
    },
  );
  await t.rejects(verifyIstioImage(image([[MediaType.ociLayerTarZstd, tarGz('plugin.wasm', wasm)]])), {
    message: /invalid media type application\/vnd\.oci\.image\.layer\.v1\.tar\+zstd/,
  });
  await t.rejects(verifyIstioImage(image([])), { message: /number of layers must be greater than zero/ });
  await t.rejects(
    verifyIstioImage(
      image([[MediaType.ociLayerTarGzip, tarGz('plugin.wasm', Buffer.from('not a module at all'))]]),
    ),
    {
      code: 'EWASM',
    },
  );
  await t.rejects(
    verifyIstioImage(
      image([[MediaType.ociLayerTarGzip, tarGz('plugin.wasm', wasm)]], MediaType.dockerManifest),
    ),
    {
      code: 'EVERIFY',
      message: /as a Docker image: invalid media type application\/vnd\.oci\.image\.layer\.v1\.tar\+gzip/,
    },
  );
  const docker = await verifyIstioImage(
    image(
      [
        [MediaType.dockerLayerTarGzip, tarGz('base', wasm)],
        [MediaType.dockerLayerTarGzip, tarGz('./app/plugin.wasm', wasm)],
      ],
      MediaType.dockerManifest,
    ),
  );
  t.equal(docker.variant, 'docker', 'docker images: the last layer, plugin.wasm in any directory');
  await t.rejects(
    verifyIstioImage(memorySource({ schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: [] }, [])),
    {
      code: 'EVERIFY',
      message: /image index/,
    },
  );
  await t.rejects(verifyIstioImage(memorySource({ schemaVersion: 1, layers: [] }, [])), {
    message: /not a schema-2 image manifest/,
  });
  await t.rejects(verifyIstioImage(memorySource(Buffer.from('<html>'), [])), { message: /not valid JSON/ });
  await t.rejects(verifyIstioImage(memorySource(Buffer.from('[1]'), [])), { message: /not a JSON object/ });

  const good = buildImage(wasm);
  const tampered: ImageSource = {
    ...sourceOf(good),
    fetchBlob: async () => tarGz('plugin.wasm', sampleWasm('other')),
  };
  await t.rejects(verifyIstioImage(tampered), {
    code: 'EDIGEST',
    message: /came back as \d+ bytes hashing to sha256:/,
  });
});
