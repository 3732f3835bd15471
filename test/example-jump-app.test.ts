// The jump-app example end to end, as a user runs it: real processes (two loopback services, `meshwasm dev`
// with the compiled filter), configured by what `meshwasm render` emits for values-seed.yaml.
import t from 'tap';
import { execFile } from 'node:child_process';
import { createServer } from 'node:net';
import { promisify } from 'node:util';

const run = promisify(execFile);

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

t.test('values-seed.yaml: 10 blocking callouts per response, total-dispatched on every reply', async (t) => {
  const env = {
    ...process.env,
    BACK_GOLANG_PORT: String(await freePort()),
    BACK_PYTHON_PORT: String(await freePort()),
  };
  const { stdout } = await run(
    process.execPath,
    ['examples/jump-app/run-local.mjs', 'examples/jump-app/values-seed.yaml', '4'],
    { env, timeout: 60_000 },
  );
  const replies = stdout.split('\n').filter((line) => line.startsWith('GET /api/'));
  t.equal(replies.length, 4, 'four client requests answered');
  for (const line of replies) {
    t.match(line, /-> 200 \{"service":"back-golang"/, 'back-golang answered through the filter');
    t.match(line, /total-dispatched: 10\/10$/, 'the response waited for all ten callouts');
  }
  t.match(stdout, /back-python received 40 \/jump calls for 4 requests/);
});
