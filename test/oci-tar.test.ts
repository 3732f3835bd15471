import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { deterministicGzip, gunzip } from '../oci/gzip.js';
import { readTar, writeTar } from '../oci/tar.js';

const wasm = Buffer.concat([Buffer.from('\0asm\x01\0\0\0', 'latin1'), Buffer.alloc(1500, 3)]);

t.test('writes a ustar archive GNU tar lists with fixed owner, mode and mtime', async (t) => {
  const tar = writeTar([{ name: 'plugin.wasm', type: 'file', data: wasm }]);
  t.equal(tar.length % 512, 0);
  t.equal(tar.length, 512 + 1536 + 1024, 'header + padded data + end marker');
  const listed = spawnSync('tar', ['-tv', '--numeric-owner', '--utc', '-f', '-'], {
    input: tar,
    encoding: 'utf8',
  });
  t.equal(listed.status, 0, listed.stderr);
  t.match(listed.stdout, /^-rw-r--r-- 0\/0\s+1508 1970-01-01 00:00 plugin\.wasm\n$/);
  const extracted = spawnSync('tar', ['-xO', '-f', '-', 'plugin.wasm'], { input: tar });
  t.same(extracted.stdout, wasm, 'GNU tar extracts the same bytes');
  t.same(writeTar([{ name: 'plugin.wasm', type: 'file', data: wasm }]), tar, 'same input, same bytes');
});

t.test('round-trips directories, empty files and long names', async (t) => {
  const long = `${'d'.repeat(120)}/${'f'.repeat(90)}.wasm`;
  const tar = writeTar([
    { name: 'blobs', type: 'directory' },
    { name: 'blobs/empty', type: 'file', data: new Uint8Array() },
    { name: long, type: 'file', data: wasm },
  ]);
  t.same(
    readTar(tar).map((e) => [e.name, e.type, e.data.length]),
    [
      ['blobs/', 'directory', 0],
      ['blobs/empty', 'file', 0],
      [long, 'file', wasm.length],
    ],
  );
  const listed = spawnSync('tar', ['-t', '-f', '-'], { input: tar, encoding: 'utf8' });
  t.equal(listed.stdout.trim().split('\n').pop(), long, 'GNU tar reads the ustar prefix field');
  t.throws(() => writeTar([{ name: 'x'.repeat(300), type: 'file', data: wasm }]), /too long for ustar/);
});

t.test('reads archives GNU tar writes in pax and gnu formats', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'meshwasm-tar-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const name = `${'n'.repeat(150)}.wasm`;
  await writeFile(join(dir, name), wasm);
  for (const format of ['pax', 'gnu', 'ustar']) {
    const made = spawnSync('tar', [`--format=${format}`, '-c', '-f', '-', '-C', dir, name]);
    if (format === 'ustar') {
      t.not(made.status, 0, 'ustar cannot hold a 155-character name without a slash');
      continue;
    }
    const entries = readTar(made.stdout);
    t.equal(entries.length, 1, format);
    t.equal(entries[0].name, name, `${format} long name`);
    t.same(entries[0].data, wasm, `${format} data`);
  }
});

t.test('rejects corrupt archives', async (t) => {
  const tar = writeTar([{ name: 'plugin.wasm', type: 'file', data: wasm }]);
  const flipped = Buffer.from(tar);
  flipped[10] ^= 0xff;
  t.throws(() => readTar(flipped), /checksum mismatch/);
  t.throws(() => readTar(tar.subarray(0, 700)), /truncated/);
  t.throws(() => readTar(tar.subarray(0, 100)), /partial header/);
  t.same(readTar(tar.subarray(0, 2048)).length, 1, 'a missing end marker is tolerated');
});

t.test('gzip output is byte-stable and readable by gzip(1)', async (t) => {
  const tar = writeTar([{ name: 'plugin.wasm', type: 'file', data: wasm }]);
  const gz = deterministicGzip(tar);
  t.same(
    gz.subarray(0, 10),
    Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 2, 0xff]),
    'no mtime, no name, OS unknown',
  );
  t.same(deterministicGzip(tar), gz);
  t.same(gunzip(gz), tar);
  const dir = await mkdtemp(join(tmpdir(), 'meshwasm-gz-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'layer.tar.gz'), gz);
  const checked = spawnSync('gzip', ['-dc', join(dir, 'layer.tar.gz')]);
  t.equal(checked.status, 0);
  t.same(checked.stdout, tar, 'gzip -d gives back the tar');
});
