// Host functions beyond headers and callouts: properties, metrics, logs, buffers, status,
// effective context, shared data/queues, WASI, and bounds checks on guest pointers.
import t from 'tap';
import { LogLevel, ProxyWasmHost, WasmResult, decodePairs } from '../host/index.js';
import {
  MALLOC_COUNT_ADDR,
  ProxyModuleBuilder,
  type Step,
  readBytes,
  readU32,
  readU64,
  slot,
  slotText,
} from './helpers/wasm-fixtures.js';

const req: Array<[string, string]> = [
  [':authority', 'shop.example'],
  [':path', '/cart?id=7'],
  [':method', 'PUT'],
  [':scheme', 'http'],
  ['x-request-id', 'abc'],
  ['user-agent', 'ua'],
  ['content-length', '3'],
];

async function run(
  steps: (b: ProxyModuleBuilder) => Record<string, Step[]>,
  opts: Record<string, unknown> = {},
) {
  const b = new ProxyModuleBuilder();
  for (const [name, s] of Object.entries(steps(b))) b.callback(name, s);
  const host = await ProxyWasmHost.start({ wasm: b.build(), ...opts });
  return { host, mem: host.exports.memory as WebAssembly.Memory };
}

t.test('properties: NUL-separated paths, Envoy encodings, NotFound for unknown', async (t) => {
  const { host, mem } = await run(
    (b) => {
      const get = (path: string, n: number): Step => ({
        call: 'proxy_get_property',
        args: [b.data(path), slot(n + 1), slot(n + 2)],
        store: slot(n),
      });
      return {
        proxy_on_vm_start: [get('plugin_root_id', 0), get('request\0path', 3)],
        proxy_on_request_headers: [
          get('plugin_name', 6),
          get('plugin_vm_id', 9),
          get('request\0path', 12),
          get('request\0url_path', 15),
          get('request\0headers\0x-request-id', 18),
          get('request\0id', 21),
          get('response\0code', 24),
          get('no\0such', 27),
          get('source\0port', 30),
          get('request\0headers', 33),
          get('node\0metadata\0MESH', 36),
          get('connection_id', 39),
          get('request\0time', 42),
          { call: 'proxy_set_property', args: [b.data('my_state'), b.data('v1')], store: slot(45) },
          get('my_state', 46),
        ],
        proxy_on_response_headers: [
          get('request\0path', 50),
          get('response\0code', 53),
          get('response\0headers\0server', 56),
        ],
        proxy_on_log: [
          get('request\0path', 60),
          get('response\0code_details', 63),
          get('request\0duration', 66),
        ],
      };
    },
    {
      rootId: 'meshwasm',
      pluginName: 'callout',
      vmId: 'vm1',
      properties: { 'node\0metadata\0MESH': 'mesh-a' },
      streamInfo: { source: '10.1.2.3:4567' },
    },
  );
  const ok = (n: number, want: string, msg: string) => {
    t.equal(readU32(mem, slot(n)), WasmResult.Ok, `${msg}: Ok`);
    t.equal(slotText(mem, n + 1, n + 2), want, msg);
  };
  const i64 = (n: number) =>
    new DataView(readBytes(mem, readU32(mem, slot(n + 1)), 8).buffer).getBigInt64(0, true);
  ok(0, 'meshwasm', 'plugin_root_id on the root');
  t.equal(readU32(mem, slot(3)), WasmResult.NotFound, 'no stream info on the root');
  const id = host.initializeHttpContext();
  host.callOnRequestHeaders(id, req, false);
  ok(6, 'callout', 'plugin_name');
  ok(9, 'vm1', 'plugin_vm_id');
  ok(12, '/cart?id=7', 'request.path');
  ok(15, '/cart', 'request.url_path');
  ok(18, 'abc', 'request.headers.x-request-id');
  ok(21, 'abc', 'request.id');
  t.equal(readU32(mem, slot(24)), WasmResult.NotFound, 'no response code yet');
  t.equal(readU32(mem, slot(27)), WasmResult.NotFound, 'unknown path');
  t.equal(readU32(mem, slot(30)), WasmResult.Ok);
  t.equal(i64(30), 4567n, 'source.port as int64');
  t.same(
    decodePairs(readBytes(mem, readU32(mem, slot(34)), readU32(mem, slot(35)))),
    req,
    'request.headers as pairs',
  );
  ok(36, 'mesh-a', 'user property');
  t.equal(readU32(mem, slot(41)), 8, 'connection_id is a uint64');
  t.ok(i64(42) > 1_600_000_000_000_000_000n, 'request.time in ns');
  t.equal(readU32(mem, slot(45)), WasmResult.Ok, 'set_property on a stream');
  ok(46, 'v1', 'the value set');
  host.callOnRequestBody(id, 'abc', true);
  host.callOnResponseHeaders(
    id,
    [
      [':status', '201'],
      ['server', 'envoy'],
    ],
    true,
  );
  t.equal(
    readU32(mem, slot(50)),
    WasmResult.NotFound,
    'request.path after Continue: Envoy no longer holds the headers',
  );
  t.equal(i64(53), 201n, 'response.code');
  ok(56, 'envoy', 'response.headers.server');
  host.completeHttpContext(id);
  ok(60, '/cart?id=7', 'request.path in the access-log phase');
  t.equal(readU32(mem, slot(63)), WasmResult.NotFound, 'no code details for a proxied response');
  t.ok(i64(66) >= 0n, 'request.duration once complete');
  host.setProperty('x', 'y');
  t.equal(host.getProperty('x'), 'y');
  host.shutdown();
});

t.test('metrics: Envoy-like ids and semantics', async (t) => {
  const { host, mem } = await run((b) => ({
    proxy_on_vm_start: [
      { call: 'proxy_define_metric', args: [0, b.data('callouts_started'), slot(1)], store: slot(0) },
      { call: 'proxy_define_metric', args: [0, b.data('callouts_failed'), slot(3)], store: slot(2) },
      { call: 'proxy_define_metric', args: [1, b.data('in_flight'), slot(5)], store: slot(4) },
      { call: 'proxy_define_metric', args: [2, b.data('latency'), slot(7)], store: slot(6) },
      { call: 'proxy_define_metric', args: [3, b.data('bad'), slot(9)], store: slot(8) },
      { call: 'proxy_define_metric', args: [0, b.data('callouts_started'), slot(11)], store: slot(10) },
    ],
    proxy_on_configure: [
      { call: 'proxy_increment_metric', args: [{ load: slot(1) }, 2n], store: slot(12) },
      { call: 'proxy_increment_metric', args: [{ load: slot(11) }, 1n], store: slot(13) },
      { call: 'proxy_increment_metric', args: [{ load: slot(1) }, 0n], store: slot(14) },
      { call: 'proxy_increment_metric', args: [{ load: slot(5) }, 5n], store: slot(15) },
      { call: 'proxy_increment_metric', args: [{ load: slot(5) }, -2n], store: slot(16) },
      { call: 'proxy_increment_metric', args: [{ load: slot(7) }, 1n], store: slot(17) },
      { call: 'proxy_record_metric', args: [{ load: slot(7) }, 42n], store: slot(18) },
      { call: 'proxy_record_metric', args: [{ load: slot(3) }, 7n], store: slot(19) },
      { call: 'proxy_increment_metric', args: [404, 1n], store: slot(20) },
      { call: 'proxy_get_metric', args: [{ load: slot(1) }, slot(22)], store: slot(21) },
      { call: 'proxy_get_metric', args: [{ load: slot(7) }, slot(24)], store: slot(23) },
      { call: 'proxy_record_metric', args: [{ load: slot(5) }, 9n], store: slot(25) },
    ],
  }));
  const r = (n: number) => readU32(mem, slot(n));
  t.same(
    [r(1), r(3), r(5), r(7), r(11)],
    [4, 8, 5, 6, 12],
    'counters 4, 8, ...; gauge 5; histogram 6; a redefinition gets a new id',
  );
  t.equal(r(8), WasmResult.BadArgument, 'type > 2');
  t.same([r(12), r(13)], [0, 0]);
  t.equal(r(14), WasmResult.BadArgument, 'counter increment <= 0');
  t.same([r(15), r(16)], [0, 0], 'gauge add and subtract');
  t.equal(r(17), WasmResult.BadArgument, 'histogram increment');
  t.same([r(18), r(19)], [0, 0]);
  t.equal(r(20), WasmResult.NotFound, 'unknown id');
  t.equal(r(21), WasmResult.Ok);
  t.equal(readU64(mem, slot(22)), 3n, 'both ids of the same counter add up');
  t.equal(r(23), WasmResult.BadArgument, 'histograms cannot be read');
  t.equal(host.getCounter('callouts_started'), 3n, '2 + 1 through two ids');
  t.equal(host.getCounter('callouts_failed'), 7n, 'record adds to a counter');
  t.equal(host.getGauge('in_flight'), 9n, 'record sets a gauge');
  t.same(host.getHistogram('latency'), [42n]);
  t.equal(host.getCounter('missing'), undefined);
  t.same(Object.keys(host.getMetrics()).sort(), [
    'callouts_failed',
    'callouts_started',
    'in_flight',
    'latency',
  ]);
  host.shutdown();
});

t.test('logs, fd_write, get_status, effective context and level checks', async (t) => {
  const lines: string[] = [];
  const { host, mem } = await run(
    (b) => {
      const text = b.data('hello\n');
      const iovBytes = new Uint8Array(8);
      new DataView(iovBytes.buffer).setUint32(0, text.ptr, true);
      new DataView(iovBytes.buffer).setUint32(4, text.len, true);
      const iov = b.data(iovBytes);
      return {
        proxy_on_vm_start: [
          { call: 'proxy_log', args: [6, b.data('too high')], store: slot(0) },
          { call: 'proxy_log', args: [4, 0x7ffffff0, 4], store: slot(1) },
          { call: 'proxy_set_effective_context', args: [99], store: slot(2) },
          { call: 'proxy_set_effective_context', args: [0], store: slot(3) },
          { call: 'proxy_get_status', args: [slot(5), slot(6), slot(7)], store: slot(4) },
          { call: 'wasi_unstable.fd_write', args: [1, iov.ptr, 1, slot(9)], store: slot(8) },
          { call: 'wasi_unstable.fd_write', args: [3, iov.ptr, 1, slot(9)], store: slot(10) },
          { call: 'proxy_get_current_time_nanoseconds', args: [slot(11)], store: slot(12) },
          { call: 'wasi_unstable.clock_time_get', args: [1, 0n, slot(13)], store: slot(14) },
          { call: 'wasi_unstable.clock_time_get', args: [2, 0n, slot(13)], store: slot(15) },
          { call: 'wasi_unstable.random_get', args: [slot(16), 8], store: slot(17) },
          { call: 'wasi_unstable.random_get', args: [slot(16), 70000], store: slot(18) },
          { call: 'wasi_snapshot_preview1.environ_sizes_get', args: [slot(19), slot(20)], store: slot(21) },
          { call: 'wasi_snapshot_preview1.args_sizes_get', args: [slot(22), slot(23)], store: slot(24) },
          { call: 'wasi_unstable.fd_read', args: [0, 0, 0, 0], store: slot(25) },
          { call: 'proxy_done', args: [], store: slot(26) },
          {
            call: 'proxy_call_foreign_function',
            args: [b.data('compress'), b.data(''), slot(28), slot(29)],
            store: slot(27),
          },
          {
            call: 'proxy_grpc_call',
            args: [b.data('nowhere'), b.data('s'), b.data('m'), b.data(''), b.data(''), 100, slot(31)],
            store: slot(30),
          },
        ],
      };
    },
    { logSink: (e: { message: string }) => lines.push(e.message), now: () => 1234n, environment: { A: 'b' } },
  );
  const r = (n: number) => readU32(mem, slot(n));
  t.equal(r(0), WasmResult.BadArgument, 'level > critical');
  t.equal(r(1), WasmResult.InvalidMemoryAccess, 'message out of bounds');
  t.equal(r(2), WasmResult.BadArgument, 'unknown context');
  t.equal(r(3), WasmResult.Ok);
  t.same([r(4), r(5), r(7)], [0, 0, 0], 'status (0, "") before any callout');
  t.equal(r(8), 0, 'fd_write to stdout');
  t.equal(r(9), 6, 'bytes written');
  t.equal(r(10), 8, 'EBADF for other fds');
  t.equal(readU64(mem, slot(11)), 1234n, 'time from the host clock');
  t.same([r(14), r(15)], [0, 58], 'monotonic ok, cputime ENOTSUP');
  t.same([r(17), r(18)], [0, 28], 'random_get, EINVAL above 64 KiB');
  t.same([r(19), r(20), r(21)], [1, 4, 0], 'environment');
  t.same([r(22), r(23), r(24)], [0, 0, 0], 'no args');
  t.equal(r(25), 52, 'fd_read ENOSYS');
  t.equal(r(26), WasmResult.NotFound, 'proxy_done without a pending root');
  t.equal(r(27), WasmResult.NotFound, 'no foreign functions');
  t.equal(r(30), WasmResult.ParseFailure, 'gRPC to an unknown cluster');
  t.same(
    host.getLogs().map((l) => [l.level, l.message]),
    [[LogLevel.info, 'hello']],
    'stdout -> info, trailing newline dropped',
  );
  t.same(
    lines,
    host.getLogs().map((l) => l.message),
  );
  host.clearLogs();
  t.same(host.getLogs(), []);
  host.shutdown();
});

t.test('buffers: clamping, (0,0) without malloc, set_buffer_bytes rules', async (t) => {
  const { host, mem } = await run((b) => {
    const x = b.data('XY');
    return {
      proxy_on_request_body: [
        { call: 'proxy_get_buffer_bytes', args: [0, 2, 100, slot(1), slot(2)], store: slot(0) },
        { call: 'proxy_get_buffer_bytes', args: [0, 50, 10, slot(4), slot(5)], store: slot(3) },
        { call: 'proxy_get_buffer_status', args: [0, slot(7), slot(8)], store: slot(6) },
        { call: 'proxy_get_buffer_bytes', args: [9, 0, 1, slot(10), slot(11)], store: slot(9) },
        { call: 'proxy_get_buffer_bytes', args: [0, -1, 2, slot(13), slot(14)], store: slot(12) },
        { call: 'proxy_set_buffer_bytes', args: [0, 0, 0, x], store: slot(15) },
        { call: 'proxy_set_buffer_bytes', args: [0, 100, 0, x], store: slot(16) },
        { call: 'proxy_set_buffer_bytes', args: [0, 1, 0, x], store: slot(17) },
        { call: 'proxy_get_buffer_bytes', args: [4, 0, 10, slot(19), slot(20)], store: slot(18) },
        { call: 'proxy_set_buffer_bytes', args: [6, 0, 0, x], store: slot(21) },
      ],
      proxy_on_response_body: [{ call: 'proxy_set_buffer_bytes', args: [1, 0, 100, x], store: slot(22) }],
    };
  });
  const r = (n: number) => readU32(mem, slot(n));
  const id = host.initializeHttpContext();
  host.callOnRequestHeaders(id, req, false);
  const mallocs = readU32(mem, MALLOC_COUNT_ADDR);
  host.callOnRequestBody(id, 'hello', true);
  t.equal(r(0), WasmResult.Ok);
  t.equal(slotText(mem, 1, 2), 'llo', 'over-read is clamped');
  t.same([r(3), r(4), r(5)], [WasmResult.Ok, 0, 0], 'start past the end: Ok, (0, 0)');
  t.same([r(6), r(7), r(8)], [WasmResult.Ok, 5, 0], 'status: size and flags');
  t.equal(r(9), WasmResult.BadArgument, 'type > 8');
  t.equal(r(12), WasmResult.BadArgument, 'start + length overflows');
  t.same(
    [r(15), r(16), r(17)],
    [WasmResult.Ok, WasmResult.Ok, WasmResult.BadArgument],
    'prepend, append, middle',
  );
  t.equal(r(18), WasmResult.NotFound, 'no http call response outside its callback');
  t.equal(r(21), WasmResult.BadArgument, 'immutable buffers');
  t.equal(
    readU32(mem, MALLOC_COUNT_ADDR) - mallocs,
    1,
    'one malloc: the clamped read; empty results need none',
  );
  t.equal(
    Buffer.from(host.getCurrentRequestBody(id)).toString(),
    'XYhelloXY',
    'edits are what the filter manager forwards',
  );
  host.callOnResponseHeaders(id, [[':status', '200']], false);
  host.callOnResponseBody(id, 'upstream body', true);
  t.equal(r(22), WasmResult.Ok);
  t.equal(Buffer.from(host.getCurrentResponseBody(id)).toString(), 'XY', 'replace');
  host.shutdown();
});

t.test('shared data and queues', async (t) => {
  const { host, mem } = await run((b) => {
    const k = b.data('key');
    return {
      proxy_on_vm_start: [
        { call: 'proxy_get_shared_data', args: [k, slot(1), slot(2), slot(3)], store: slot(0) },
        { call: 'proxy_set_shared_data', args: [k, b.data('v1'), 0], store: slot(4) },
        { call: 'proxy_get_shared_data', args: [k, slot(6), slot(7), slot(8)], store: slot(5) },
        { call: 'proxy_set_shared_data', args: [k, b.data('v2'), 99], store: slot(9) },
        { call: 'proxy_set_shared_data', args: [k, b.data('v2'), { load: slot(8) }], store: slot(10) },
        { call: 'proxy_register_shared_queue', args: [b.data('q'), slot(12)], store: slot(11) },
        { call: 'proxy_resolve_shared_queue', args: [b.data(''), b.data('q'), slot(14)], store: slot(13) },
        {
          call: 'proxy_resolve_shared_queue',
          args: [b.data(''), b.data('other'), slot(16)],
          store: slot(15),
        },
        {
          call: 'proxy_dequeue_shared_queue',
          args: [{ load: slot(12) }, slot(18), slot(19)],
          store: slot(17),
        },
        { call: 'proxy_enqueue_shared_queue', args: [{ load: slot(12) }, b.data('item')], store: slot(20) },
      ],
      proxy_on_queue_ready: [
        { storeParam: 1, at: slot(21) },
        { call: 'proxy_dequeue_shared_queue', args: [{ param: 1 }, slot(23), slot(24)], store: slot(22) },
      ],
    };
  });
  const r = (n: number) => readU32(mem, slot(n));
  t.equal(r(0), WasmResult.NotFound);
  t.same([r(4), r(5)], [0, 0]);
  t.equal(slotText(mem, 6, 7), 'v1');
  t.equal(r(9), WasmResult.CasMismatch);
  t.equal(r(10), WasmResult.Ok, 'matching cas');
  t.same([r(11), r(13), r(14)], [0, 0, r(12)]);
  t.equal(r(15), WasmResult.NotFound);
  t.equal(r(17), WasmResult.Empty);
  t.equal(r(20), WasmResult.Ok);
  t.equal(
    host.getVmCallTrace().some((c) => c.fn === 'proxy_on_queue_ready'),
    false,
    'never inline',
  );
  await new Promise((res) => setImmediate(res));
  t.equal(r(21), r(12), 'on_queue_ready(root, token)');
  t.equal(slotText(mem, 23, 24), 'item');
  host.shutdown();
});

t.test('ticks, close_stream, and the trace switch', async (t) => {
  const { host, mem } = await run(() => ({
    proxy_on_vm_start: [{ call: 'proxy_set_tick_period_milliseconds', args: [20] }],
    proxy_on_tick: [{ log: 'tick' }],
    proxy_on_request_headers: [
      { call: 'proxy_close_stream', args: [0], store: slot(0) },
      { call: 'proxy_close_stream', args: [9], store: slot(1) },
      { call: 'proxy_continue_stream', args: [3], store: slot(2) },
      { call: 'proxy_continue_stream', args: [7], store: slot(3) },
    ],
  }));
  t.equal(host.getTickPeriod(), 20);
  host.tick();
  t.equal(host.getLogs().length, 1);
  host.enableRealTicks();
  await new Promise((r) => setTimeout(r, 70));
  t.ok(host.getLogs().length >= 2, 'real ticks when enabled');
  const id = host.initializeHttpContext();
  host.callOnRequestHeaders(id, req, true);
  t.same(
    [readU32(mem, slot(0)), readU32(mem, slot(1)), readU32(mem, slot(2)), readU32(mem, slot(3))],
    [WasmResult.Ok, WasmResult.BadArgument, WasmResult.Unimplemented, WasmResult.BadArgument],
  );
  t.equal(host.getStreamState(id).reset, 'wasm_close_stream');
  host.setVmCallTrace(false);
  host.clearVmCallTrace();
  host.tick();
  t.same(host.getVmCallTrace(), []);
  t.ok(host.memoryBytes() >= 2 * 65536);
  host.shutdown();
  t.throws(() => host.initializeHttpContext(), /shut down/);
});
