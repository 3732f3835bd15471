// The jump-app scenario on this machine, no cluster needed (`npm run demo`): back-golang and
// back-python stand-ins on their reference ports (8442, 8444), and `meshwasm dev` on 127.0.0.1:10000
// in front of back-golang with the filter configured from the values file exactly as `render`
// would deploy it. Uses real Envoy when one is installed (scripts/components.sh envoy), else the
// Node host. A few requests, then what back-python received; everything is stopped at the end.
//
//   npm run build && node examples/jump-app/run-local.mjs [values.yaml] [requests]
//
// Environment: MESHWASM_DEMO_ENGINE=node|envoy, BACK_GOLANG_PORT, BACK_PYTHON_PORT, DEV_PORT.
// A port already in use fails the demo (exit 1) and says which.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const cli = join(root, 'bin', 'run.js');
const valuesFile = process.argv[2] ?? join(here, 'values-seed.yaml');
const requests = Number(process.argv[3] ?? 3);
const BACK_GOLANG = Number(process.env.BACK_GOLANG_PORT ?? 8442);
const BACK_PYTHON = Number(process.env.BACK_PYTHON_PORT ?? 8444);
const DEV = Number(process.env.DEV_PORT ?? 10000);

const { findEnvoy } = await import(join(root, 'dist', 'envoy', 'locate.js'));
const engine = process.env.MESHWASM_DEMO_ENGINE ?? (findEnvoy() ? 'envoy' : 'node');

const children = [];
const stopAll = () => children.forEach((child) => child.exitCode === null && child.kill('SIGTERM'));
process.on('exit', stopAll);

/** Starts a process and resolves once a stderr/stdout line matches `ready`; fails if it exits first. */
function start(name, args, ready) {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  return new Promise((resolve, reject) => {
    let seen = '';
    const onData = (chunk) => {
      const text = String(chunk);
      process.stderr.write(text.replace(/^(?=.)/gm, `${name} | `));
      seen += text;
      const match = ready.exec(seen);
      if (match) resolve({ child, match });
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) =>
      reject(
        new Error(
          `${name} exited (code ${code}) before it was ready${/EADDRINUSE/.test(seen) ? ': its port is already in use' : ''}`,
        ),
      ),
    );
  });
}

let failed = false;
try {
  if (!existsSync(join(root, 'filter', 'build', 'plugin.wasm'))) throw new Error('run `npm run build` first');
  // The callout cluster render names for these values (the one the filter will call).
  const rendered = JSON.parse(
    execFileSync(process.execPath, [cli, 'render', '-f', valuesFile, '--target', 'ossm', '-o', 'json'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    }),
  );
  const calloutCluster = rendered.items.find((item) => item.kind === 'WasmPlugin').spec.pluginConfig.cluster;
  await start('back-golang', [join(here, 'back-golang.mjs'), String(BACK_GOLANG)], /listening/);
  await start('back-python', [join(here, 'back-python.mjs'), String(BACK_PYTHON)], /listening/);
  const { match } = await start(
    `dev (${engine})`,
    [
      cli,
      'dev',
      '--engine',
      engine,
      '-f',
      valuesFile,
      '--listen',
      `127.0.0.1:${DEV}`,
      '--upstream',
      `http://127.0.0.1:${BACK_GOLANG}`,
      // The values file names the callout cluster; dev maps it, by name, to back-python here.
      '--cluster',
      `${calloutCluster}=http://127.0.0.1:${BACK_PYTHON}`,
    ],
    /^(http:\/\/\S+)$/m,
  );
  const url = match[1];
  console.log(`meshwasm dev (${engine}) at ${url}`);
  for (let i = 0; i < requests; i += 1) {
    const response = await fetch(`${url}/api/${i}`);
    const outcome = response.headers.get('total-dispatched');
    console.log(
      `GET /api/${i} -> ${response.status} ${await response.text()}${outcome ? `  total-dispatched: ${outcome}` : ''}`,
    );
  }
  await new Promise((resolve) => setTimeout(resolve, 300)); // let async callouts land
  const stats = await (await fetch(`http://127.0.0.1:${BACK_PYTHON}/stats`)).json();
  console.log(`back-python received ${stats.jumps} /jump calls for ${requests} requests`);
} catch (error) {
  console.error(`demo: ${error.message}`);
  failed = true;
} finally {
  stopAll();
  await Promise.all(
    children.map((c) => (c.exitCode === null ? new Promise((r) => c.once('exit', r)) : undefined)),
  );
}
process.exit(failed ? 1 : 0);
