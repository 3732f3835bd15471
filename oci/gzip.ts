import { constants, crc32, deflateRawSync, gunzipSync } from 'node:zlib';

/**
 * gzip with a header we write ourselves: zlib's own gzip wrapper stamps an OS byte that differs
 * between Linux, macOS and Windows builds, which would make the layer digest depend on the
 * machine. Fixed header: no mtime, no file name, XFL=2 (max compression), OS=255 (unknown),
 * the same choices Go's compress/gzip makes. Compression settings are pinned too.
 */
const HEADER = Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0x02, 0xff]);

export function deterministicGzip(data: Uint8Array): Buffer {
  const body = deflateRawSync(data, {
    level: 9,
    memLevel: 8,
    windowBits: 15,
    strategy: constants.Z_DEFAULT_STRATEGY,
  });
  const trailer = Buffer.alloc(8);
  trailer.writeUInt32LE(crc32(data) >>> 0, 0);
  trailer.writeUInt32LE(data.length % 2 ** 32, 4);
  return Buffer.concat([HEADER, body, trailer]);
}

export function gunzip(data: Uint8Array): Buffer {
  return gunzipSync(data);
}
