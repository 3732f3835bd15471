// The jump-app example end to end, as a user runs it: real processes (two loopback services, `meshwasm dev`
// with the compiled filter), configured by what `meshwasm render` emits for values-seed.yaml.
import t from 'tap';
import { execFile } from 'node:child_process';
import { createServer } from 'node:net';
import { promisify } from 'node:util';
import { requireComponent } from './helpers/components.js';

const run = promisify(execFile);

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

for (const engine of ['node', 'envoy']) {
  t.test(
    `values-seed.yaml on ${engine}: 10 blocking callouts per response, total-dispatched on every reply`,
    async (t) => {
      if (engine === 'envoy' && !requireComponent(t, 'envoy')) return;
      const env = {
        ...process.env,
        MESHWASM_DEMO_ENGINE: engine,
        BACK_GOLANG_PORT: String(await freePort()),
        BACK_PYTHON_PORT: String(await freePort()),
        DEV_PORT: String(await freePort()),
      };
      const { stdout, stderr } = await run(
        process.execPath,
        ['examples/jump-app/run-local.mjs', 'examples/jump-app/values-seed.yaml', '4'],
        { env, timeout: 60_000 },
      );
      t.match(stdout, new RegExp(`meshwasm dev \\(${engine}\\) at http://127\\.0\\.0\\.1:${env.DEV_PORT}`));
      const replies = stdout.split('\n').filter((line) => line.startsWith('GET /api/'));
      t.equal(replies.length, 4, 'four client requests answered');
      for (const line of replies) {
        t.match(line, /-> 200 \{"service":"back-golang"/, 'back-golang answered through the filter');
        t.match(line, /total-dispatched: 10\/10$/, 'the response waited for all ten callouts');
      }
      t.match(stdout, /back-python received 40 \/jump calls for 4 requests/);
      t.match(stderr, /meshwasm dev: 4 requests, 40 callouts \(200=40\)/, 'the summary at the end');
    },
  );
}

t.test('the demo fails loudly when one of its ports is taken', async (t) => {
  const taken = createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise((resolve) => taken.close(resolve)));
  const env = {
    ...process.env,
    MESHWASM_DEMO_ENGINE: 'node',
    BACK_GOLANG_PORT: String((taken.address() as { port: number }).port),
    BACK_PYTHON_PORT: String(await freePort()),
    DEV_PORT: String(await freePort()),
  };
  const failure = await run(process.execPath, ['examples/jump-app/run-local.mjs'], {
    env,
    timeout: 60_000,
  }).catch((e: { code: number; stderr: string }) => e);
  t.equal((failure as { code: number }).code, 1);
  t.match(
    (failure as { stderr: string }).stderr,
    /demo: back-golang exited \(code 1\) before it was ready: its port is already in use/,
  );
});
