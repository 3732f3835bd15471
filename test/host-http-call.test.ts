// proxy_http_call with manually resolved callouts: argument checks, tokens, delivery to the ROOT
// context, what is readable during the callback, reset/timeout delivery, deferral, lifetime.
import t from 'tap';
import { FilterHeadersStatus, ProxyWasmHost, WasmResult } from '../host/index.js';
import {
  type Arg,
  type DataRef,
  ProxyModuleBuilder,
  calloutProbeModule as calloutModule,
  readU32,
  slot,
  slotText,
} from './helpers/wasm-fixtures.js';

const req: Array<[string, string]> = [
  [':authority', 'front'],
  [':path', '/'],
  [':method', 'GET'],
];
const good: Array<[string, string]> = [
  [':method', 'GET'],
  [':path', '/jump'],
  [':authority', 'back-python'],
  ['x-request-id', 'r1'],
];

function httpCall(
  cluster: DataRef,
  headers: DataRef,
  body: DataRef,
  trailers: DataRef,
  timeout: number,
  resultSlot: number,
  tokenSlot: number,
  tokenPtr = slot(tokenSlot),
) {
  return {
    call: 'proxy_http_call',
    args: [cluster, headers, body, trailers, timeout, tokenPtr] as Arg[],
    store: slot(resultSlot),
  };
}

t.test('BadArgument cases, tokens 4, 8, 12 and InternalFailure', async (t) => {
  const b = new ProxyModuleBuilder();
  const cluster = b.data('back');
  const unknown = b.data('nope');
  const unavailable = b.data('down');
  const empty = b.data('');
  const ok = b.pairs(good);
  const noPath = b.pairs(good.filter(([k]) => k !== ':path'));
  const noMethod = b.pairs(good.filter(([k]) => k !== ':method'));
  const noAuthority = b.pairs(good.filter(([k]) => k !== ':authority'));
  const upperCase = b.pairs([
    [':METHOD', 'GET'],
    [':Path', '/'],
    [':Authority', 'x'],
  ]);
  b.callback(
    'proxy_on_request_headers',
    [
      httpCall(unknown, ok, empty, empty, 1000, 0, 1),
      httpCall(cluster, noPath, empty, empty, 1000, 2, 3),
      httpCall(cluster, noMethod, empty, empty, 1000, 4, 5),
      httpCall(cluster, noAuthority, empty, empty, 1000, 6, 7),
      httpCall(cluster, ok, empty, empty, -1, 8, 9),
      httpCall(cluster, ok, empty, empty, 1000, 10, 11),
      httpCall(cluster, upperCase, empty, empty, 0, 12, 13),
      httpCall(unavailable, ok, empty, empty, 1000, 14, 15),
      httpCall(cluster, ok, b.data('body!'), b.pairs([['t', '1']]), 5, 16, 17),
      httpCall(cluster, ok, empty, empty, 1000, 18, 0, 0x7ffffff0),
    ],
    1,
  );
  const host = await ProxyWasmHost.start({
    wasm: b.build(),
    clusters: { back: 'manual', down: 'unavailable' },
  });
  const mem = host.exports.memory as WebAssembly.Memory;
  const id = host.initializeHttpContext();
  t.equal(host.callOnRequestHeaders(id, req, true), FilterHeadersStatus.StopAllIterationAndWatermark);
  const result = (n: number) => readU32(mem, slot(n));
  t.equal(result(0), WasmResult.BadArgument, 'unknown cluster');
  t.equal(result(2), WasmResult.BadArgument, 'missing :path');
  t.equal(result(4), WasmResult.BadArgument, 'missing :method');
  t.equal(result(6), WasmResult.BadArgument, 'missing :authority');
  t.equal(result(8), WasmResult.BadArgument, 'negative timeout');
  for (const n of [1, 3, 5, 7, 9]) t.equal(result(n), 0, 'token slot zeroed on failure');
  t.equal(result(10), WasmResult.Ok);
  t.equal(result(11), 4, 'first token 4');
  t.equal(result(12), WasmResult.Ok, 'keys are lower-cased before the check');
  t.equal(result(13), 8);
  t.equal(result(14), WasmResult.InternalFailure, 'inline send failure');
  t.equal(result(15), 0);
  t.equal(result(16), WasmResult.Ok);
  t.equal(result(17), 16, 'the failed inline send consumed token 12');
  t.equal(result(18), WasmResult.InvalidMemoryAccess, 'token pointer out of bounds');
  const callouts = host.getHttpCallouts({ contextId: id });
  t.same(
    callouts.map((c) => c.token),
    [4, 8, 16],
  );
  t.same(callouts[0], {
    token: 4,
    cluster: 'back',
    headers: good,
    body: new Uint8Array(0),
    trailers: [],
    timeoutMs: 1000,
    originContextId: id,
    pending: true,
  });
  t.same(callouts[1]!.headers, [
    [':method', 'GET'],
    [':path', '/'],
    [':authority', 'x'],
  ]);
  t.equal(callouts[1]!.timeoutMs, 0);
  t.same(callouts[2]!.headers.at(-1), ['content-length', '5'], 'content-length added for a body');
  t.same(callouts[2]!.trailers, [['t', '1']]);
  host.shutdown();
});

const text = (mem: WebAssembly.Memory, ptrSlot: number, lenSlot: number) => slotText(mem, ptrSlot, lenSlot);

t.test('a response is delivered to the ROOT context and readable only during the callback', async (t) => {
  const host = await ProxyWasmHost.start({ wasm: calloutModule(), clusters: { back: 'manual' } });
  const mem = host.exports.memory as WebAssembly.Memory;
  const id = host.initializeHttpContext();
  host.callOnRequestHeaders(id, req, false);
  host.callOnRequestBody(id, 'xyz', true);
  host.clearVmCallTrace();
  host.respondToHttpCall(4, {
    headers: [
      [':status', '201'],
      ['X-Up', 'yes'],
    ],
    body: 'pong',
  });
  t.same(
    host.getVmCallTrace().map((c) => `${c.fn}(${c.args})`),
    ['proxy_on_http_call_response(1,4,2,4,0)', `proxy_on_request_body(${id},3,1)`],
    'root id, token, header count, body size; buffered request body follows the resume',
  );
  t.equal(readU32(mem, slot(2)), 1);
  t.equal(readU32(mem, slot(5)), WasmResult.Ok);
  t.equal(text(mem, 6, 7), '201');
  t.equal(readU32(mem, slot(11)), WasmResult.Ok);
  t.equal(text(mem, 12, 13), 'pong');
  t.equal(readU32(mem, slot(14)), WasmResult.Ok);
  t.equal(readU32(mem, slot(15)), 0, 'status code 0 on success');
  t.equal(readU32(mem, slot(18)), WasmResult.Ok, 'set_effective_context(stream)');
  t.equal(readU32(mem, slot(19)), WasmResult.Ok);
  t.equal(host.getStreamState(id).continuedRequest, true);
  t.same(
    host.getLogs().map((l) => l.message),
    ['callback end', 'request body'],
    'resume ran after the callback returned',
  );
  t.same(host.getHttpCallouts()[0]!.pending, false);
  host.callOnResponseHeaders(id, [[':status', '200']], true);
  t.equal(readU32(mem, slot(21)), WasmResult.BadArgument, 'HttpCallResponseHeaders gone after the callback');
  t.throws(() => host.respondToHttpCall(4, { headers: [[':status', '200']] }), /no pending http call/);
  host.shutdown();
});

t.test('failHttpCall delivers (root, token, 0, 0, 0) with get_status (11, "reset")', async (t) => {
  const host = await ProxyWasmHost.start({ wasm: calloutModule(), clusters: { back: 'manual' } });
  const mem = host.exports.memory as WebAssembly.Memory;
  const id = host.initializeHttpContext();
  host.callOnRequestHeaders(id, req, true);
  host.clearVmCallTrace();
  host.failHttpCall(4);
  t.same(host.getVmCallTrace()[0], { fn: 'proxy_on_http_call_response', args: [1, 4, 0, 0, 0] });
  t.equal(readU32(mem, slot(5)), WasmResult.BadArgument, 'header value on a failed call');
  t.equal(readU32(mem, slot(8)), WasmResult.Ok, 'pairs Ok');
  t.same([readU32(mem, slot(9)), readU32(mem, slot(10))], [0, 0], 'pairs empty');
  t.equal(readU32(mem, slot(11)), WasmResult.NotFound, 'body NotFound');
  t.equal(readU32(mem, slot(15)), WasmResult.BrokenConnection);
  t.equal(text(mem, 16, 17), 'reset');
  t.equal(host.getStreamState(id).continuedRequest, true);
  host.shutdown();
});

t.test("timeoutHttpCall is the router's 504 success", async (t) => {
  const host = await ProxyWasmHost.start({ wasm: calloutModule(), clusters: { back: 'manual' } });
  const mem = host.exports.memory as WebAssembly.Memory;
  host.callOnRequestHeaders(host.initializeHttpContext(), req, true);
  host.timeoutHttpCall(4);
  t.equal(text(mem, 6, 7), '504');
  t.equal(text(mem, 12, 13), 'upstream request timeout');
  const pairs = new Uint8Array(mem.buffer, readU32(mem, slot(9)), readU32(mem, slot(10)));
  t.match(Buffer.from(pairs).toString('latin1'), /content-type\0text\/plain\0/);
  host.shutdown();
});

t.test('a reply that arrives while the VM runs is queued until the callback returns', async (t) => {
  const b = new ProxyModuleBuilder();
  const cluster = b.data('back');
  const empty = b.data('');
  b.callback(
    'proxy_on_request_headers',
    [httpCall(cluster, b.pairs(good), empty, empty, 0, 0, 1), { log: 'deliver now' }, { log: 'headers end' }],
    1,
  );
  b.callback('proxy_on_http_call_response', [{ log: 'callback' }]);
  const host: ProxyWasmHost = await ProxyWasmHost.start({
    wasm: b.build(),
    clusters: { back: 'manual' },
    logSink: (e) => {
      if (e.message === 'deliver now') host.respondToHttpCall(4, { headers: [[':status', '200']] });
    },
  });
  host.callOnRequestHeaders(host.initializeHttpContext(), req, true);
  t.same(
    host.getLogs().map((l) => l.message),
    ['deliver now', 'headers end', 'callback'],
  );
  host.shutdown();
});

t.test('continue_stream and send_local_response run after the callback returns', async (t) => {
  const b = new ProxyModuleBuilder();
  const cluster = b.data('back');
  const empty = b.data('');
  b.callback(
    'proxy_on_request_headers',
    [{ storeParam: 0, at: slot(20) }, httpCall(cluster, b.pairs(good), empty, empty, 0, 0, 1)],
    1,
  );
  b.callback('proxy_on_http_call_response', [
    { call: 'proxy_set_effective_context', args: [{ load: slot(20) }] },
    {
      call: 'proxy_send_local_response',
      args: [403, b.data('not authorized'), b.data('nope'), b.pairs([['X-Why', 'policy']]), -1],
      store: slot(2),
    },
    { log: 'callback end' },
  ]);
  b.callback('proxy_on_response_headers', [{ log: 'response headers' }]);
  b.callback('proxy_on_response_body', [{ log: 'response body' }]);
  const host = await ProxyWasmHost.start({ wasm: b.build(), clusters: { back: 'manual' } });
  const id = host.initializeHttpContext();
  host.callOnRequestHeaders(id, req, true);
  host.respondToHttpCall(4, { headers: [[':status', '500']] });
  t.same(
    host.getLogs().map((l) => l.message),
    ['callback end', 'response headers', 'response body'],
  );
  t.same(host.getSentLocalResponse(id), {
    statusCode: 403,
    details: 'not_authorized',
    body: new Uint8Array(Buffer.from('nope')),
    headers: [
      [':status', '403'],
      ['x-why', 'policy'],
      ['content-length', '4'],
      ['content-type', 'text/plain'],
    ],
    grpcStatus: -1,
  });
  t.same(host.getCurrentResponseHeaders(id), [
    [':status', '403'],
    ['x-why', 'policy'],
    ['content-length', '4'],
    ['content-type', 'text/plain'],
  ]);
  t.same(
    host
      .getVmCallTrace()
      .filter((c) => c.fn.startsWith('proxy_on_response'))
      .map((c) => c.args),
    [
      [id, 4, 0],
      [id, 4, 1],
    ],
  );
  t.equal(
    host.callOnResponseHeaders(id, [[':status', '200']], true),
    FilterHeadersStatus.Continue,
    'upstream response ignored after a local reply',
  );
  host.shutdown();
});

t.test('calls outlive their stream and die silently with the root', async (t) => {
  const host = await ProxyWasmHost.start({ wasm: calloutModule(), clusters: { back: 'manual' } });
  const mem = host.exports.memory as WebAssembly.Memory;
  const a = host.initializeHttpContext();
  host.callOnRequestHeaders(a, req, true);
  host.completeHttpContext(a);
  host.clearVmCallTrace();
  host.respondToHttpCall(4, { headers: [[':status', '200']] });
  t.same(
    host.getVmCallTrace().map((c) => c.fn),
    ['proxy_on_http_call_response'],
    'still delivered to the root',
  );
  t.equal(readU32(mem, slot(18)), WasmResult.BadArgument, 'set_effective_context on a deleted stream');
  t.equal(host.getStreamState(a).ended, true);
  const b = host.initializeHttpContext();
  host.callOnRequestHeaders(b, req, true);
  t.same(
    host.getHttpCallouts({ pending: true }).map((c) => c.token),
    [8],
  );
  host.clearVmCallTrace();
  host.shutdown();
  t.same(
    host.getVmCallTrace().map((c) => c.fn),
    ['proxy_on_done', 'proxy_on_delete'],
    'no callback for the cancelled call',
  );
  t.same(host.getHttpCallouts({ pending: true }), []);
  t.throws(() => host.respondToHttpCall(8, { headers: [] }), /shut down/);
});

t.test('traceHostCalls records what the guest called and on which context', async (t) => {
  const host = await ProxyWasmHost.start({
    wasm: calloutModule(),
    clusters: { back: 'manual' },
    traceHostCalls: true,
  });
  const id = host.initializeHttpContext();
  host.callOnRequestHeaders(id, req, true);
  t.same(
    host.getHostCallTrace().map((c) => [c.fn, c.contextId]),
    [['proxy_http_call', id]],
  );
  host.completeHttpContext(id);
  host.clearHostCallTrace();
  host.respondToHttpCall(4, { headers: [[':status', '200']] });
  const calls = host.getHostCallTrace();
  t.same(calls.find((c) => c.fn === 'proxy_set_effective_context')?.args, [id]);
  t.same(
    calls.filter((c) => c.fn === 'proxy_continue_stream').map((c) => c.contextId),
    [1],
    'the stream is gone, so the effective context stays the root (proxy-runtime B7)',
  );
  t.notOk(
    calls.some((c) => c.contextId === id),
    'nothing touched the ended stream',
  );
  host.shutdown();
});
