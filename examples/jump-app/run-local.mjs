// The jump-app scenario on this machine, no cluster needed: back-golang and back-python stand-ins on
// loopback, the compiled filter in front of back-golang through `meshwasm dev`, configured with the
// very pluginConfig that `meshwasm render` would deploy.
//
//   npm run build && node examples/jump-app/run-local.mjs [values.yaml] [requests]
//
// Prints what the client saw and how many /jump calls back-python received.
import { spawn, execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const here = dirname(fileURLToPath(import.meta.url));
const cli = join(here, '..', '..', 'bin', 'run.js');
const valuesFile = process.argv[2] ?? join(here, 'values-seed.yaml');
const requests = Number(process.argv[3] ?? 3);
// Loopback ports of the stand-ins; override when those are taken.
const BACK_GOLANG = Number(process.env.BACK_GOLANG_PORT ?? 18442);
const BACK_PYTHON = Number(process.env.BACK_PYTHON_PORT ?? 18444);

// The filter configuration comes from render itself, so the local run and the cluster agree.
const list = JSON.parse(
  execFileSync(process.execPath, [cli, 'render', '-f', valuesFile, '--target', 'ossm', '-o', 'json'], {
    stdio: ['ignore', 'pipe', 'ignore'],
  }),
);
const wasmPlugin = list.items.find((item) => item.kind === 'WasmPlugin');
const config = wasmPlugin.spec.pluginConfig;

const children = [];
const start = (args) => {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  return child;
};
const stopAll = () => children.forEach((child) => child.kill());
process.on('exit', stopAll);

try {
  start([join(here, 'back-golang.mjs'), String(BACK_GOLANG)]);
  start([join(here, 'back-python.mjs'), String(BACK_PYTHON)]);
  const gateway = start([
    cli,
    'dev',
    '--port',
    '0',
    '--upstream',
    `http://127.0.0.1:${BACK_GOLANG}`,
    '--callout',
    `http://127.0.0.1:${BACK_PYTHON}`,
    '--config',
    JSON.stringify(config),
  ]);
  const [firstLine] = await once(gateway.stdout, 'data');
  const url = String(firstLine).trim().split('\n')[0];
  console.log(`gateway ${url}  (filter config: ${JSON.stringify(config)})`);

  for (let i = 0; i < requests; i += 1) {
    const response = await fetch(`${url}/api/${i}`);
    const outcome = config.outcomeHeader
      ? `  ${config.outcomeHeader}: ${response.headers.get(config.outcomeHeader)}`
      : '';
    console.log(`GET /api/${i} -> ${response.status} ${await response.text()}${outcome}`);
  }
  await new Promise((resolve) => setTimeout(resolve, 200)); // let async callouts land
  const stats = await (await fetch(`http://127.0.0.1:${BACK_PYTHON}/stats`)).json();
  console.log(`back-python received ${stats.jumps} /jump calls for ${requests} requests`);
} finally {
  stopAll();
}
