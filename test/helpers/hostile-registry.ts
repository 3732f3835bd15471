// A loopback "registry" that misbehaves the ways a hostile or broken one does: it drips its
// answer one byte a second, sends a manifest of any size, names a digest its bytes do not have,
// or answers with escape sequences and megabytes of error text. Only the few distribution API
// calls that pinning and pushing make are served. Plain HTTP for in-process tests (insecure), or
// HTTPS with a throwaway certificate for CLI subprocesses, which trust it via NODE_EXTRA_CA_CERTS.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { sha256Digest } from '../../oci/digest.js';
import { buildImage, type WasmImage } from '../../oci/image.js';
import { MediaType } from '../../oci/media-types.js';
import { sampleWasm } from './registry-fixtures.js';

export type Behaviour =
  /** Headers at once, then the manifest one byte per second (never finishing in a test's time). */
  | 'slow-drip'
  /** A "manifest" of `hugeBytes` bytes, streamed as fast as the client reads, no Content-Length. */
  | 'huge-manifest'
  /** The same, but with an honest Content-Length. */
  | 'huge-manifest-declared'
  /** HEAD names a digest the manifest does not have; GET sends the real bytes without the header. */
  | 'wrong-head-digest'
  /** HEAD and GET both name a digest the bytes do not have. */
  | 'wrong-digest'
  /** The tag is a multi-platform index with a linux/amd64 and a linux/arm64 child. */
  | 'index'
  /** An index with only a wasi/wasm child. */
  | 'index-wasm-only'
  /** A distribution error document whose message forges a terminal line and retitles the window. */
  | 'ansi-error'
  /** 5 MB of plain-text error, escapes included. */
  | 'huge-error'
  | 'honest';

export interface HostileRegistry {
  /** host:port, the registry part of an image reference. */
  host: string;
  image: WasmImage;
  /** The digest the hostile answers claim (wrong-* behaviours). */
  claimedDigest: string;
  /** PEM file to trust it (HTTPS only). */
  caFile?: string;
  /** "METHOD path" of every request. */
  requests: string[];
  close(): Promise<void>;
}

export const FORGED_LINE = '\u001b[2K\r\u001b[32m✔ push succeeded\u001b[0m\u001b]0;pwned\u0007';
const CLAIMED = `sha256:${'0'.repeat(64)}`;

function certificate(dir: string): { key: Buffer; cert: Buffer; caFile: string } {
  const keyFile = join(dir, 'tls.key');
  const certFile = join(dir, 'tls.crt');
  const made = spawnSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
      '-keyout',
      keyFile,
      '-out',
      certFile,
    ],
    { encoding: 'utf8' },
  );
  if (made.status !== 0) throw new Error(`openssl failed: ${made.stderr}`);
  return { key: readFileSync(keyFile), cert: readFileSync(certFile), caFile: certFile };
}

export async function startHostileRegistry(
  t: { teardown(fn: () => unknown): void },
  behaviour: Behaviour,
  /** basic: "USER:PASSWORD" the registry demands (Basic auth) on every call. */
  options: { tls?: boolean; hugeBytes?: number; basic?: string } = {},
): Promise<HostileRegistry> {
  const image = buildImage(sampleWasm());
  const manifest = image.manifest.data;
  const hugeBytes = options.hugeBytes ?? 64 * 1024 * 1024;
  const requests: string[] = [];
  const timers = new Set<NodeJS.Timeout>();

  const indexFor = (children: Array<{ digest: string; os: string; architecture: string }>) =>
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaType.ociIndex,
        manifests: children.map((c) => ({
          mediaType: MediaType.ociManifest,
          digest: c.digest,
          size: manifest.length,
          platform: { os: c.os, architecture: c.architecture },
        })),
      }),
    );
  const index =
    behaviour === 'index-wasm-only'
      ? indexFor([{ digest: image.digest, os: 'wasi', architecture: 'wasm' }])
      : indexFor([
          { digest: `sha256:${'a'.repeat(64)}`, os: 'linux', architecture: 'arm64' },
          { digest: image.digest, os: 'linux', architecture: 'amd64' },
        ]);

  const handler: http.RequestListener = (req, res) => {
    requests.push(`${req.method} ${req.url}`);
    req.resume();
    const url = req.url ?? '/';
    if (
      options.basic &&
      req.headers.authorization !== `Basic ${Buffer.from(options.basic).toString('base64')}`
    ) {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="hostile"' }).end();
      return;
    }
    if (url === '/v2/') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      return;
    }
    // Blobs only for the huge behaviours: the one fault a blob read has to survive here.
    const m = /^\/v2\/(.+)\/(manifests|blobs)\/([^/]+)$/.exec(url);
    if (!m || (m[2] === 'blobs' && !behaviour.startsWith('huge-manifest'))) {
      res.writeHead(404).end();
      return;
    }
    const reference = m[3];
    const head = req.method === 'HEAD';
    const send = (status: number, body: Buffer, headers: http.OutgoingHttpHeaders = {}) =>
      res
        .writeHead(status, { 'content-length': String(body.length), ...headers })
        .end(head ? undefined : body);
    const honest = {
      'content-type': MediaType.ociManifest,
      'docker-content-digest': image.digest,
    };
    if (m[2] === 'manifests' && reference === image.digest) {
      send(200, manifest, honest);
      return;
    }
    switch (behaviour) {
      case 'slow-drip': {
        res.writeHead(200, { 'content-type': MediaType.ociManifest });
        if (head) return void res.end();
        let i = 0;
        const drip = setInterval(() => {
          if (i >= manifest.length) {
            clearInterval(drip);
            res.end();
          } else res.write(manifest.subarray(i, ++i));
        }, 1000);
        timers.add(drip);
        res.on('close', () => clearInterval(drip));
        return;
      }
      case 'huge-manifest':
      case 'huge-manifest-declared': {
        res.writeHead(200, {
          'content-type': MediaType.ociManifest,
          ...(behaviour === 'huge-manifest-declared' ? { 'content-length': String(hugeBytes) } : {}),
        });
        if (head) return void res.end();
        const chunk = Buffer.alloc(64 * 1024, 0x20);
        let sent = 0;
        const pump = () => {
          while (sent < hugeBytes) {
            sent += chunk.length;
            if (!res.write(chunk)) return void res.once('drain', pump);
          }
          res.end();
        };
        res.on('close', () => (sent = hugeBytes));
        pump();
        return;
      }
      case 'wrong-head-digest':
        if (head) send(200, manifest, { ...honest, 'docker-content-digest': CLAIMED });
        else send(200, manifest, { 'content-type': MediaType.ociManifest });
        return;
      case 'wrong-digest':
        send(200, manifest, { ...honest, 'docker-content-digest': CLAIMED });
        return;
      case 'index':
      case 'index-wasm-only':
        send(200, index, {
          'content-type': MediaType.ociIndex,
          'docker-content-digest': sha256Digest(index),
        });
        return;
      case 'ansi-error':
        send(
          500,
          Buffer.from(JSON.stringify({ errors: [{ code: 'UNKNOWN', message: `oops ${FORGED_LINE}` }] })),
          { 'content-type': 'application/json' },
        );
        return;
      case 'huge-error':
        send(500, Buffer.from(`${FORGED_LINE}${'error text '.repeat(500_000)}`), {
          'content-type': 'text/plain',
        });
        return;
      case 'honest':
        send(200, manifest, honest);
        return;
    }
  };

  const dir = mkdtempSync(join(tmpdir(), 'meshwasm-hostile-'));
  const tls = options.tls ? certificate(dir) : undefined;
  const server = tls
    ? https.createServer({ key: tls.key, cert: tls.cert }, handler)
    : http.createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= new Promise<void>((r) => {
      for (const timer of timers) clearInterval(timer);
      server.closeAllConnections();
      server.close(() => {
        rmSync(dir, { recursive: true, force: true });
        r();
      });
    }));
  t.teardown(close);
  return {
    host: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    image,
    claimedDigest: CLAIMED,
    ...(tls ? { caFile: tls.caFile } : {}),
    requests,
    close,
  };
}
