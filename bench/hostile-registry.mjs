#!/usr/bin/env node
// `meshwasm render --image` against a hostile loopback registry (HTTPS, trusted through
// NODE_EXTRA_CA_CERTS), next to the same render against an honest one, in this one invocation:
// wall time and peak RSS of the CLI process, and the ratio to the honest run. A slow-drip registry
// (headers, then one byte a second) must end at --registry-timeout; a 256 MiB "manifest" must be
// refused at 4 MiB without the RSS growing with it. Needs dist/ and openssl.
// Usage: node bench/hostile-registry.mjs [--registry-timeout S] [--cap-seconds S]
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const arg = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const TIMEOUT = arg('--registry-timeout', '5');
const CAP = Number(arg('--cap-seconds', '120'));

const dir = mkdtempSync(join(tmpdir(), 'meshwasm-bench-hostile-'));
const made = spawnSync('openssl', [
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
  join(dir, 'k.pem'),
  '-out',
  join(dir, 'c.pem'),
]);
if (made.status !== 0) {
  console.error('bench/hostile-registry.mjs: openssl failed');
  process.exit(2);
}

// A small valid-looking manifest: its digest is whatever its bytes hash to.
const manifest = Buffer.from(
  JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: {
      mediaType: 'application/vnd.oci.image.config.v1+json',
      digest: `sha256:${'1'.repeat(64)}`,
      size: 2,
    },
    layers: [],
  }),
);
let mode = 'honest';
const server = https.createServer(
  { key: readFileSync(join(dir, 'k.pem')), cert: readFileSync(join(dir, 'c.pem')) },
  (req, res) => {
    req.resume();
    if (req.url === '/v2/') return void res.writeHead(200).end('{}');
    const type = { 'content-type': 'application/vnd.oci.image.manifest.v1+json' };
    if (mode === 'honest' || req.method === 'HEAD')
      return void res.writeHead(200, type).end(req.method === 'HEAD' ? undefined : manifest);
    res.writeHead(200, type);
    if (mode === 'slow-drip') {
      let i = 0;
      const drip = setInterval(
        () => (i < manifest.length ? res.write(manifest.subarray(i, ++i)) : (clearInterval(drip), res.end())),
        1000,
      );
      res.on('close', () => clearInterval(drip));
    } else {
      const chunk = Buffer.alloc(64 * 1024, 0x20);
      let sent = 0;
      const pump = () => {
        while (sent < 256 * 1024 * 1024) {
          sent += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        res.end();
      };
      res.on('close', () => (sent = Infinity));
      pump();
    }
  },
);
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const host = `127.0.0.1:${server.address().port}`;
const home = join(dir, 'home');

function render(extra) {
  return new Promise((resolve) => {
    const start = process.hrtime.bigint();
    // /usr/bin/time would add a dependency; Node reports the child's peak RSS itself.
    const child = spawn(
      process.execPath,
      [join(ROOT, 'bin', 'run.js'), 'render', '--image', `oci://${host}/team/f:v1`, ...extra],
      {
        env: {
          PATH: process.env.PATH,
          HOME: home,
          XDG_STATE_HOME: join(home, 'state'),
          NODE_EXTRA_CA_CERTS: join(dir, 'c.pem'),
        },
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    let stderr = '';
    child.stderr.on('data', (c) => (stderr += c));
    const kill = setTimeout(() => child.kill('SIGKILL'), CAP * 1000);
    child.on('exit', (code, signal) => {
      clearTimeout(kill);
      const ms = Number(process.hrtime.bigint() - start) / 1e6;
      resolve({
        ms,
        code: signal ? `killed after ${CAP} s` : code,
        stderr: stderr
          .split('\n')[0]
          .replace(/^Error: cannot pin \S+ to a digest: /, '')
          .slice(0, 150),
      });
    });
  });
}

// The RSS of the child is read from /proc while it runs (Linux).
async function measured(extra) {
  let peak = 0;
  const run = render(extra);
  const poll = setInterval(() => {
    for (const pid of spawnSync('pgrep', ['-f', `oci://${host}/team/f:v1`], { encoding: 'utf8' })
      .stdout.split('\n')
      .filter(Boolean)) {
      try {
        const kb = Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
        peak = Math.max(peak, kb);
      } catch {
        // gone
      }
    }
  }, 50);
  const result = await run;
  clearInterval(poll);
  return { ...result, peakMb: peak / 1024 };
}

const timeoutFlag = ['--registry-timeout', TIMEOUT];
const supported =
  spawnSync(
    process.execPath,
    [join(ROOT, 'bin', 'run.js'), 'render', '--registry-timeout', '1', '--print-values'],
    { encoding: 'utf8' },
  ).status === 0;
const flag = supported ? timeoutFlag : [];
mode = 'honest';
const baseline = await measured(flag);
console.log(
  `render --image against a hostile registry (node ${process.version}; ${supported ? `--registry-timeout ${TIMEOUT}` : 'this build has no --registry-timeout'})`,
);
const line = (name, r) =>
  console.log(
    `${name.padEnd(28)} ${(r.ms / 1000).toFixed(2).padStart(7)} s  ${(r.ms / baseline.ms).toFixed(1).padStart(6)}x  peak RSS ${r.peakMb.toFixed(0).padStart(5)} MB  exit ${r.code}  ${r.stderr}`,
  );
line('honest registry', baseline);
for (const m of ['slow-drip', 'huge-manifest']) {
  mode = m;
  line(m, await measured(flag));
}
server.closeAllConnections();
server.close();
rmSync(dir, { recursive: true, force: true });
