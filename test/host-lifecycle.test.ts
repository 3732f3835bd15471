// Context ids and the exact order of callbacks (Envoy: root create/vm_start/configure; streams
// created lazily at request headers; on_log before on_done before on_delete), return-code
// translation and what Envoy forgets after Continue.
import t from 'tap';
import { FilterDataStatus, FilterHeadersStatus, LogLevel, ProxyWasmHost, WasmResult } from '../host/index.js';
import { ProxyModuleBuilder, lifecycleModule, readU32, slot } from './helpers/wasm-fixtures.js';

const req: Array<[string, string]> = [
  [':authority', 'example.com'],
  [':path', '/x'],
  [':method', 'POST'],
  ['x-a', '1'],
];

t.test("root and stream lifecycle order is exactly Envoy's", async (t) => {
  const host = await ProxyWasmHost.create({ wasm: lifecycleModule().build(), rootId: 'r' });
  t.same(
    host.getVmCallTrace(),
    [{ fn: 'proxy_on_context_create', args: [1, 0] }],
    'create = on_context_create(1, 0) only',
  );
  t.ok(host.startVm());
  t.ok(host.startPlugin());
  const a = host.initializeHttpContext();
  const b = host.initializeHttpContext();
  t.same([a, b], [2, 3], 'stream ids 2, 3, ...');
  t.equal(host.getVmCallTrace().length, 3, 'initializeHttpContext does not enter the VM');
  host.callOnRequestHeaders(a, req, false);
  host.callOnRequestBody(a, 'abc', false);
  host.callOnRequestTrailers(a, [['t', '1']]);
  host.callOnResponseHeaders(a, [[':status', '200']], false);
  host.callOnResponseBody(a, 'hello', true);
  host.completeHttpContext(a);
  host.shutdown();
  t.same(
    host.getVmCallTrace().map((c) => `${c.fn}(${c.args.join(',')})`),
    [
      'proxy_on_context_create(1,0)',
      'proxy_on_vm_start(1,0)',
      'proxy_on_configure(1,0)',
      'proxy_on_context_create(2,1)',
      'proxy_on_request_headers(2,4,0)',
      'proxy_on_request_body(2,3,0)',
      'proxy_on_request_trailers(2,1)',
      'proxy_on_response_headers(2,1,0)',
      'proxy_on_response_body(2,5,1)',
      'proxy_on_log(2)',
      'proxy_on_done(2)',
      'proxy_on_delete(2)',
      'proxy_on_done(1)',
      'proxy_on_delete(1)',
    ],
  );
  t.same(
    host.getLogs(LogLevel.info).map((l) => l.contextId),
    [1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 1, 1],
  );
});

t.test('a stream that never saw request headers is created at log time', async (t) => {
  const host = await ProxyWasmHost.start({ wasm: lifecycleModule().build() });
  host.clearVmCallTrace();
  const id = host.initializeHttpContext();
  host.completeHttpContext(id);
  t.same(
    host.getVmCallTrace().map((c) => c.fn),
    ['proxy_on_context_create', 'proxy_on_log', 'proxy_on_done', 'proxy_on_delete'],
  );
  t.equal(host.getStreamState(id).ended, true);
  t.throws(() => host.callOnRequestHeaders(id, req, true), /no HTTP stream context/);
  host.shutdown();
});

t.test(
  'vm and plugin configuration sizes are passed, and PluginConfiguration is readable only in on_configure',
  async (t) => {
    const b = new ProxyModuleBuilder().callback('proxy_on_vm_start');
    // get_buffer_bytes(PluginConfiguration=7, 0, 100, ptr_ptr, size_ptr) in on_configure and on_request_headers
    b.callback('proxy_on_configure', [
      { call: 'proxy_get_buffer_bytes', args: [7, 0, 100, slot(1), slot(2)], store: slot(0) },
    ]);
    b.callback('proxy_on_request_headers', [
      { call: 'proxy_get_buffer_bytes', args: [7, 0, 100, slot(4), slot(5)], store: slot(3) },
      { call: 'proxy_get_buffer_bytes', args: [6, 0, 100, slot(7), slot(8)], store: slot(6) },
    ]);
    const host = await ProxyWasmHost.start({ wasm: b.build(), pluginConfig: '{"a":1}', vmConfig: 'vm!' });
    const mem = host.exports.memory as WebAssembly.Memory;
    t.same(
      host.getVmCallTrace().map((c) => `${c.fn}(${c.args})`),
      ['proxy_on_vm_start(1,3)', 'proxy_on_configure(1,7)'],
    );
    t.equal(readU32(mem, slot(0)), WasmResult.Ok);
    t.equal(
      Buffer.from(new Uint8Array(mem.buffer, readU32(mem, slot(1)), readU32(mem, slot(2)))).toString(),
      '{"a":1}',
    );
    host.callOnRequestHeaders(host.initializeHttpContext(), req, true);
    t.equal(readU32(mem, slot(3)), WasmResult.NotFound, 'PluginConfiguration outside on_configure');
    t.equal(readU32(mem, slot(6)), WasmResult.Ok, 'VmConfiguration any time');
    t.equal(
      Buffer.from(new Uint8Array(mem.buffer, readU32(mem, slot(7)), readU32(mem, slot(8)))).toString(),
      'vm!',
    );
    host.shutdown();
  },
);

t.test('StopIteration is translated to StopAllIterationAndWatermark, like cpp-host', async (t) => {
  for (const [ret, want] of [
    [0, 0],
    [1, 4],
    [2, 2],
    [3, 3],
    [4, 4],
    [7, 4],
  ] as const) {
    const host = await ProxyWasmHost.start({
      wasm: new ProxyModuleBuilder().callback('proxy_on_request_headers', [], ret).build(),
    });
    const id = host.initializeHttpContext();
    t.equal(host.callOnRequestHeaders(id, req, false), want, `headers ${ret} -> ${want}`);
    t.equal(host.getStreamState(id).requestStopped, want === 3 || want === 4, 'stopped iff StopAll*');
    host.shutdown();
  }
  for (const [ret, want] of [
    [0, 0],
    [1, 1],
    [2, 2],
    [3, 3],
    [9, 3],
  ] as const) {
    const host = await ProxyWasmHost.start({
      wasm: new ProxyModuleBuilder().callback('proxy_on_request_body', [], ret).build(),
    });
    const id = host.initializeHttpContext();
    host.callOnRequestHeaders(id, req, false);
    t.equal(host.callOnRequestBody(id, 'x', true), want, `data ${ret} -> ${want}`);
    host.shutdown();
  }
  const host = await ProxyWasmHost.start({
    wasm: new ProxyModuleBuilder().callback('proxy_on_request_trailers', [], 5).build(),
  });
  const id = host.initializeHttpContext();
  host.callOnRequestHeaders(id, req, false);
  t.equal(host.callOnRequestTrailers(id, [['t', '1']]), 1, 'trailers > 1 -> StopIteration');
  host.shutdown();
});

t.test('after Continue Envoy drops its pointer to the headers', async (t) => {
  const b = new ProxyModuleBuilder();
  const path = b.data(':path');
  b.callback('proxy_on_request_headers', [
    { call: 'proxy_get_header_map_value', args: [0, path, slot(1), slot(2)], store: slot(0) },
  ]);
  b.callback('proxy_on_response_headers', [
    { call: 'proxy_get_header_map_value', args: [0, path, slot(4), slot(5)], store: slot(3) },
    { call: 'proxy_get_header_map_pairs', args: [0, slot(7), slot(8)], store: slot(6) },
    { call: 'proxy_add_header_map_value', args: [0, path, path], store: slot(9) },
    { call: 'proxy_get_header_map_size', args: [2, slot(11)], store: slot(10) },
  ]);
  const host = await ProxyWasmHost.start({ wasm: b.build() });
  const mem = host.exports.memory as WebAssembly.Memory;
  const id = host.initializeHttpContext();
  t.equal(host.callOnRequestHeaders(id, req, true), FilterHeadersStatus.Continue);
  t.equal(readU32(mem, slot(0)), WasmResult.Ok);
  t.equal(
    Buffer.from(new Uint8Array(mem.buffer, readU32(mem, slot(1)), readU32(mem, slot(2)))).toString(),
    '/x',
  );
  host.callOnResponseHeaders(
    id,
    [
      [':status', '200'],
      ['server', 'x'],
    ],
    true,
  );
  t.equal(readU32(mem, slot(3)), WasmResult.BadArgument, 'value get on dropped request headers');
  t.equal(readU32(mem, slot(6)), WasmResult.Ok, 'pairs get is Ok ...');
  t.same([readU32(mem, slot(7)), readU32(mem, slot(8))], [0, 0], '... and empty');
  t.equal(readU32(mem, slot(9)), WasmResult.BadArgument, 'add on dropped headers');
  t.equal(readU32(mem, slot(10)), WasmResult.Ok);
  t.equal(readU32(mem, slot(11)), ':status'.length + 3 + 'server'.length + 1, 'size is bytes, not count');
  host.shutdown();
});

t.test('body is buffered by the filter manager while headers are stopped, delivered on resume', async (t) => {
  const b = new ProxyModuleBuilder();
  b.callback('proxy_on_request_headers', [{ storeParam: 0, at: slot(0) }], 1);
  b.callback('proxy_on_tick', [
    { call: 'proxy_set_effective_context', args: [{ load: slot(0) }] },
    { call: 'proxy_continue_stream', args: [0], store: slot(1) },
  ]);
  b.callback('proxy_on_request_body', [{ log: 'body' }], 0);
  const host = await ProxyWasmHost.start({ wasm: b.build() });
  const id = host.initializeHttpContext();
  t.equal(host.callOnRequestHeaders(id, req, false), FilterHeadersStatus.StopAllIterationAndWatermark);
  t.equal(host.callOnRequestBody(id, 'ab', false), FilterDataStatus.StopIterationAndBuffer);
  t.equal(host.callOnRequestBody(id, 'cd', true), FilterDataStatus.StopIterationAndBuffer);
  t.notOk(
    host.getVmCallTrace().some((c) => c.fn === 'proxy_on_request_body'),
    'chunks not delivered while stopped',
  );
  t.same(host.getStreamState(id).continuedRequest, false);
  host.tick();
  t.same(
    host.getVmCallTrace().at(-1),
    { fn: 'proxy_on_request_body', args: [id, 4, 1] },
    'buffered body delivered once, with eos',
  );
  t.equal(host.getStreamState(id).continuedRequest, true);
  t.equal(Buffer.from(host.getCurrentRequestBody(id)).toString(), 'abcd');
  host.shutdown();
});

t.test('StopIterationAndBuffer accumulates the body the filter sees', async (t) => {
  const b = new ProxyModuleBuilder();
  b.callback(
    'proxy_on_request_body',
    [{ call: 'proxy_get_buffer_bytes', args: [0, 0, -1, slot(1), slot(2)], store: slot(0) }],
    { load: slot(10) },
  );
  const host = await ProxyWasmHost.start({ wasm: b.build() });
  const mem = host.exports.memory as WebAssembly.Memory;
  const id = host.initializeHttpContext();
  host.callOnRequestHeaders(id, req, false);
  new DataView(mem.buffer).setUint32(slot(10), FilterDataStatus.StopIterationAndBuffer, true);
  t.equal(host.callOnRequestBody(id, 'hello ', false), FilterDataStatus.StopIterationAndBuffer);
  new DataView(mem.buffer).setUint32(slot(10), FilterDataStatus.Continue, true);
  t.equal(host.callOnRequestBody(id, 'world', true), FilterDataStatus.Continue);
  t.same(
    host
      .getVmCallTrace()
      .filter((c) => c.fn === 'proxy_on_request_body')
      .map((c) => c.args),
    [
      [id, 6, 0],
      [id, 11, 1],
    ],
  );
  t.equal(
    Buffer.from(new Uint8Array(mem.buffer, readU32(mem, slot(1)), readU32(mem, slot(2)))).toString(),
    'hello world',
  );
  t.equal(Buffer.from(host.getCurrentRequestBody(id)).toString(), 'hello world');
  host.shutdown();
});
