// Soak (not a test by itself): the compiled filter in meshwasm's gateway, with every request
// making callouts that fail in mixed ways, to show that memory stays flat. Run after `npm run build`:
//
//   node --expose-gc bench/soak.mjs [--requests 100000] [--concurrency 32] [--json]
//
// Callouts (blocking mode, fanOut 2, timeout 20 ms) rotate through: 200, 500, reset before headers,
// reset after headers, a 1 MiB body, a 33 MiB body (over Envoy's 32 MiB async-client limit: reset),
// and an answer after the timeout (504). The upstream answers 200, 503, or resets. Prints RSS, heap
// and the guest's linear memory after the warm-up tenth of the requests and at the end (after a GC
// when --expose-gc is given), plus the callout history size, so growth shows as a difference.
import http from 'node:http';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startGateway } from '../dist/host/index.js';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const { values } = parseArgs({
  options: {
    requests: { type: 'string', default: '100000' },
    concurrency: { type: 'string', default: '32' },
    json: { type: 'boolean', default: false },
  },
});
const total = Number(values.requests);
const concurrency = Number(values.concurrency);

const MiB = 1024 * 1024;
const oneMiB = Buffer.alloc(MiB, 97);
let calloutN = 0;
const calloutServer = http.createServer((req, res) => {
  req.resume();
  const kind = process.env.SOAK_ONLY_OK ? 0 : calloutN++ % 14;
  if (kind === 0) res.end('ok');
  else if (kind === 1) res.writeHead(500).end('no');
  else if (kind === 2) req.socket.destroy();
  else if (kind === 3) {
    res.writeHead(200, { 'content-length': '10' });
    res.write('x');
    setImmediate(() => req.socket.destroy());
  } else if (kind === 4) res.end(oneMiB);
  else if (kind === 5 && calloutN % 140 === 6) {
    // Rarely (every tenth kind-5 callout): 33 MiB, written in 1 MiB pieces as the client drains
    // them. calloutN is already incremented here, so kind 5 means calloutN % 14 === 6.
    res.writeHead(200, { 'content-length': String(33 * MiB) });
    let left = 33;
    const more = () => {
      while (left > 0) {
        left--;
        if (!res.write(oneMiB)) return void res.once('drain', more);
      }
      res.end();
    };
    more();
  } else if (kind === 6) setTimeout(() => res.end('late'), 40);
  else res.end('ok');
});
let upstreamN = 0;
const upstream = http.createServer((req, res) => {
  req.resume();
  const kind = upstreamN++ % 10;
  if (kind === 0) res.writeHead(503).end('busy');
  else if (kind === 1) req.socket.destroy();
  else res.end('hello');
});
const listen = (s) =>
  new Promise((r) => s.listen(0, '127.0.0.1', () => r(`http://127.0.0.1:${s.address().port}`)));
const calloutUrl = await listen(calloutServer);
const upstreamUrl = await listen(upstream);

const gateway = await startGateway({
  host: {
    wasm: await readFile(path.join(root, 'filter/build/plugin.wasm')),
    rootId: 'meshwasm',
    pluginConfig: JSON.stringify({ cluster: 'back', mode: 'blocking', fanOut: 2, timeoutMs: 20 }),
    // As `meshwasm dev` runs it: the short history.
    trace: false,
    clusters: { back: calloutUrl },
    logSink: () => undefined,
  },
  upstream: upstreamUrl,
});

const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
const statuses = new Map();
function one() {
  return new Promise((resolve) => {
    const r = http.get(`${gateway.url}/soak`, { agent }, (res) => {
      statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
      res.resume();
      res.on('end', resolve);
      res.on('error', resolve);
    });
    r.on('error', () => {
      statuses.set('reset', (statuses.get('reset') ?? 0) + 1);
      resolve();
    });
  });
}

function snapshot(done) {
  globalThis.gc?.();
  const m = process.memoryUsage();
  return {
    requests: done,
    rssMiB: +(m.rss / MiB).toFixed(1),
    heapUsedMiB: +(m.heapUsed / MiB).toFixed(1),
    wasmMemoryBytes: gateway.host.memoryBytes(),
    calloutHistory: gateway.host.getHttpCallouts().length,
  };
}

const started = Date.now();
const marks = [];
let issued = 0;
let done = 0;
const warmup = Math.max(1, Math.floor(total / 10));
await new Promise((resolve) => {
  const next = () => {
    if (issued >= total) return;
    issued++;
    void one().then(() => {
      done++;
      if (done === warmup) marks.push(snapshot(done));
      if (done === total) resolve();
      else next();
    });
  };
  for (let i = 0; i < concurrency; i++) next();
});
await gateway.host.whenIdle();
marks.push(snapshot(done));
const result = {
  requests: total,
  seconds: +((Date.now() - started) / 1000).toFixed(1),
  statuses: Object.fromEntries(statuses),
  vmFailed: gateway.host.isFailed(),
  marks,
};
agent.destroy();
await gateway.close();
calloutServer.closeAllConnections();
upstream.closeAllConnections();
calloutServer.close();
upstream.close();
if (values.json) process.stdout.write(`${JSON.stringify(result)}\n`);
else {
  console.log(`soak: ${total} requests in ${result.seconds}s, statuses ${JSON.stringify(result.statuses)}`);
  for (const m of marks)
    console.log(
      `  after ${m.requests}: rss ${m.rssMiB} MiB, heap ${m.heapUsedMiB} MiB, wasm memory ${m.wasmMemoryBytes} B, callout history ${m.calloutHistory}`,
    );
}
