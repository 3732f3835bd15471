// The proxy-runtime 0.1.8 patch (patches/) on the SDK paths the filter does not use itself:
// a fixture written the way the SDK's examples are (test/fixtures/sdk-callout.ts), compiled with the
// filter's toolchain and run in the host.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { FilterHeadersStatus, LogLevel, ProxyWasmHost } from '../host/index.js';
// @ts-expect-error plain JS module without types
import { compileAssemblyScript } from '../filter/build.mjs';

const dir = await mkdtemp(path.join(os.tmpdir(), 'meshwasm-sdk-fixture-'));
t.teardown(() => rm(dir, { recursive: true, force: true }));
const wasm: Uint8Array = await compileAssemblyScript({
  entry: path.join(import.meta.dirname, 'fixtures/sdk-callout.ts'),
  outFile: path.join(dir, 'sdk.wasm'),
  quiet: true,
});

const REQUEST: Array<[string, string]> = [
  [':authority', 'front'],
  [':path', '/'],
  [':method', 'GET'],
  ['x-request-id', 'r1'],
];

async function loadSdk(pluginConfig: string, rootId = 'sdk-fixture') {
  const host = await ProxyWasmHost.create({ wasm, rootId, pluginConfig, clusters: { back: 'manual' } });
  const configured = host.startVm() && host.startPlugin();
  return { host, configured };
}

const infos = (host: ProxyWasmHost) =>
  host
    .getLogs(LogLevel.info)
    .filter((l) => l.level === LogLevel.info)
    .map((l) => l.message);

t.test("B2: an empty configuration no longer traps in the SDK's onConfigure", async (t) => {
  const { host, configured } = await loadSdk('');
  t.equal(configured, true);
  t.notOk(host.isFailed());
});

t.test(
  'B1, B3, B6, B8: the module links, get_metric reads, a missing property is empty, the callback runs',
  async (t) => {
    const { host, configured } = await loadSdk('back');
    t.equal(
      configured,
      true,
      "B1: Envoy's import table accepts proxy_set_buffer_bytes (no mistyped get_buffer_status)",
    );
    t.same(infos(host), ['metric 2'], 'B3: get_metric returns the counter value');
    t.equal(host.getCounter('sdk.fixture'), 2n);
    const id = host.initializeHttpContext();
    t.equal(host.callOnRequestHeaders(id, REQUEST, false), FilterHeadersStatus.StopAllIterationAndWatermark);
    t.notOk(host.isFailed(), 'B6: no trap on a missing property');
    t.ok(infos(host).includes('missing property: 0 bytes'));
    const [callout] = host.getHttpCallouts({ pending: true });
    host.respondToHttpCall(callout!.token, { headers: [[':status', '200']] });
    t.ok(
      infos(host).includes(`callback for ${id} with 1 headers`),
      'B8: the callback gets its origin context',
    );
    t.equal(host.getStreamState(id).continuedRequest, true);
    t.ok(host.getCurrentRequestHeaders(id).some(([k, v]) => k === 'x-called-back' && v === 'yes'));
    host.callOnRequestBody(id, 'body', true);
    t.notOk(host.isFailed());
  },
);

t.test('B7: a reply for a stream that ended is dropped, not run against the root context', async (t) => {
  const { host } = await loadSdk('back');
  const id = host.initializeHttpContext();
  host.callOnRequestHeaders(id, REQUEST, true);
  const [callout] = host.getHttpCallouts({ pending: true });
  host.completeHttpContext(id);
  host.clearLogs();
  host.respondToHttpCall(callout!.token, { headers: [[':status', '200']] });
  t.same(host.getLogs(LogLevel.debug), [], 'no callback, no critical "Unable to set effective context"');
  t.notOk(host.isFailed());
});

t.test('B10: at root shutdown, pending callbacks run only for streams that still exist', async (t) => {
  const { host } = await loadSdk('back');
  const ended = host.initializeHttpContext();
  host.callOnRequestHeaders(ended, REQUEST, true);
  const live = host.initializeHttpContext();
  host.callOnRequestHeaders(live, REQUEST, true);
  host.completeHttpContext(ended);
  host.clearLogs();
  host.shutdown();
  t.same(
    infos(host),
    [`callback for ${live} with 0 headers`],
    "only the live stream's callback, with (0, 0, 0)",
  );
  t.notOk(host.isFailed());
});

t.test('a blank root_id selects the only registered root context', async (t) => {
  const { host, configured } = await loadSdk('back', '');
  t.equal(configured, true);
  t.notOk(host.isFailed());
});

t.test('no per-callback debug logging is left in the SDK', async (t) => {
  const { host } = await loadSdk('back');
  host.clearLogs();
  const id = host.initializeHttpContext();
  host.callOnRequestHeaders(id, REQUEST, true);
  host.respondToHttpCall(host.getHttpCallouts({ pending: true })[0]!.token, {
    headers: [[':status', '200']],
  });
  host.callOnResponseHeaders(id, [[':status', '200']], true);
  host.completeHttpContext(id);
  t.same(
    host.getLogs().filter((l) => l.level === LogLevel.debug),
    [],
    'no debug lines',
  );
  t.equal(host.getLogs().length, 2, "only the fixture's own two info lines");
});
