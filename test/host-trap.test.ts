// VM failure: any trap fails the VM for good; streams then get Envoy's 503 wasm_fail_stream
// (or pass through with fail_open). proc_exit logs and returns; the trap is the guest's unreachable.
import t from 'tap';
import { FilterDataStatus, FilterHeadersStatus, GrpcStatus, ProxyWasmHost } from '../host/index.js';
import { ProxyModuleBuilder, lifecycleModule } from './helpers/wasm-fixtures.js';

const req: Array<[string, string]> = [
  [':authority', 'a'],
  [':path', '/'],
  [':method', 'GET'],
];

function trappingModule() {
  const b = lifecycleModule();
  b.callback('proxy_on_http_call_response', [
    { log: 'abort: boom', level: 5 },
    { call: 'wasi_unstable.proc_exit', args: [255] },
    { log: 'after proc_exit' },
    { trap: true },
  ]);
  // ask for a callout so a root callback can trap
  const cluster = b.data('c');
  b.callback('proxy_on_tick', [
    { call: 'proxy_http_call', args: [cluster, b.pairs(req), b.data(''), b.data(''), 0, 2048] },
  ]);
  return b.build();
}

t.test('a trap fails the VM; later requests get 503 wasm_fail_stream without entering the VM', async (t) => {
  const host = await ProxyWasmHost.start({ wasm: trappingModule(), clusters: { c: 'manual' } });
  const inflight = host.initializeHttpContext();
  host.callOnRequestHeaders(inflight, req, false);
  host.tick();
  host.respondToHttpCall(4, { headers: [[':status', '200']] });
  t.ok(host.isFailed());
  const logs = host.getLogs().map((l) => `${l.source}:${l.message}`);
  t.same(
    logs.slice(-4),
    ['guest:abort: boom', 'host:wasi_unstable proc_exit', 'guest:after proc_exit', logs.at(-1)],
    'proc_exit logs and returns; the guest goes on until unreachable',
  );
  t.match(logs.at(-1), /^host:Function: proxy_on_http_call_response failed: .*unreachable/);

  host.clearVmCallTrace();
  const id = host.initializeHttpContext();
  t.equal(host.callOnRequestHeaders(id, req, true), FilterHeadersStatus.StopAllIterationAndWatermark);
  t.same(host.getSentLocalResponse(id), {
    statusCode: 503,
    details: 'wasm_fail_stream',
    body: new Uint8Array(0),
    headers: [[':status', '503']],
    grpcStatus: GrpcStatus.Unavailable,
  });
  t.same(host.getCurrentResponseHeaders(id), [[':status', '503']]);
  // the in-flight stream fails on its next callback
  t.equal(host.callOnRequestBody(inflight, 'x', true), FilterDataStatus.StopIterationNoBuffer);
  t.equal(host.getSentLocalResponse(inflight)?.details, 'wasm_fail_stream');
  host.completeHttpContext(id);
  host.completeHttpContext(inflight);
  host.shutdown();
  t.same(host.getVmCallTrace(), [], 'a failed VM is never entered again');
});

t.test('fail-open skips the filter after a trap', async (t) => {
  const host = await ProxyWasmHost.start({
    wasm: trappingModule(),
    clusters: { c: 'manual' },
    failOpen: true,
  });
  const inflight = host.initializeHttpContext();
  host.callOnRequestHeaders(inflight, req, false);
  host.tick();
  host.respondToHttpCall(4, { headers: [[':status', '200']] });
  t.ok(host.isFailed());
  const id = host.initializeHttpContext();
  t.equal(host.callOnRequestHeaders(id, req, true), FilterHeadersStatus.Continue);
  t.equal(host.getSentLocalResponse(id), undefined);
  t.same(host.getStreamState(id).bypassed, true);
  t.equal(host.callOnRequestBody(inflight, 'x', true), FilterDataStatus.Continue);
  t.equal(host.getSentLocalResponse(inflight), undefined);
  t.equal(host.callOnResponseHeaders(id, [[':status', '200']], true), FilterHeadersStatus.Continue);
  host.completeHttpContext(id);
  host.shutdown();
});

t.test('a trap in on_response_headers replaces the unsent response (direct local reply)', async (t) => {
  const b = new ProxyModuleBuilder()
    .callback('proxy_on_context_create')
    .callback('proxy_on_response_headers', [{ trap: true }]);
  const host = await ProxyWasmHost.start({ wasm: b.build() });
  const id = host.initializeHttpContext();
  host.callOnRequestHeaders(id, [...req, ['content-type', 'application/grpc']], true);
  t.equal(
    host.callOnResponseHeaders(
      id,
      [
        [':status', '200'],
        ['x-up', '1'],
      ],
      false,
    ),
    FilterHeadersStatus.StopAllIterationAndWatermark,
  );
  t.same(
    host.getCurrentResponseHeaders(id),
    [
      [':status', '200'],
      ['content-type', 'application/grpc'],
      ['grpc-status', '14'],
    ],
    'gRPC requests get a trailers-only Unavailable',
  );
  t.equal(host.getStreamState(id).continuedResponse, true);
  host.shutdown();
});

t.test('a trap in the root on_context_create fails the VM before start', async (t) => {
  const b = new ProxyModuleBuilder().callback('proxy_on_context_create', [{ trap: true }]);
  const host = await ProxyWasmHost.create({ wasm: b.build(), rootId: 'missing' });
  t.ok(
    host.isFailed(),
    'root on_context_create trapped (e.g. no root context registered for plugin_root_id)',
  );
  await t.rejects(ProxyWasmHost.start({ wasm: b.build() }), { message: /^Failed to start base Wasm VM/ });
  host.shutdown();
});
