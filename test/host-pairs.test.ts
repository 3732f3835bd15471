// The header-pair wire format and Envoy's limits, on its own and through guest memory.
import t from 'tap';
import {
  PAIRS_MAX_BYTES,
  PAIRS_MAX_COUNT,
  ProxyWasmHost,
  WasmResult,
  decodePairs,
  encodePairs,
} from '../host/index.js';
import { MALLOC_COUNT_ADDR, ProxyModuleBuilder, readBytes, readU32, slot } from './helpers/wasm-fixtures.js';

t.test('encoding matches the spec byte for byte', async (t) => {
  t.same(
    [
      ...encodePairs([
        ['a', '1'],
        ['b', '22'],
      ]),
    ],
    [2, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 0x61, 0, 0x31, 0, 0x62, 0, 0x32, 0x32, 0],
  );
  t.same([...encodePairs([])], [0, 0, 0, 0], 'empty list = 4 zero bytes (what proxy-runtime sends)');
});

t.test('round trip, including empty values and UTF-8', async (t) => {
  const pairs: Array<[string, string]> = [
    [':path', '/ä?x=1'],
    ['empty', ''],
    ['dup', '1'],
    ['dup', '2'],
    ['', 'no-key'],
  ];
  t.same(decodePairs(encodePairs(pairs)), pairs);
});

t.test('malformed or oversized buffers decode to an empty map, never an error', async (t) => {
  const ok = encodePairs([['k', 'v']]);
  t.same(decodePairs(new Uint8Array(0)), []);
  t.same(decodePairs(ok.subarray(0, 3)), [], 'shorter than the count');
  t.same(decodePairs(ok.subarray(0, ok.length - 1)), [], 'truncated');
  t.same(decodePairs(new Uint8Array([...ok, 0])), [], 'trailing bytes');
  const noNul = ok.slice();
  noNul[noNul.length - 1] = 0x41;
  t.same(decodePairs(noNul), [], 'value not NUL-terminated');
  const badCount = ok.slice();
  badCount[0] = 2;
  t.same(decodePairs(badCount), [], 'count larger than the data');
  const max = Array.from({ length: PAIRS_MAX_COUNT }, (_, i) => [`k${i}`, 'v'] as [string, string]);
  t.equal(decodePairs(encodePairs(max)).length, 1024, '1024 pairs accepted');
  t.same(decodePairs(encodePairs([...max, ['one', 'more']])), [], '1025 pairs -> empty');
  const big = encodePairs([['big', 'x'.repeat(PAIRS_MAX_BYTES - 20)]]);
  t.ok(big.length <= PAIRS_MAX_BYTES);
  t.equal(decodePairs(big).length, 1, 'just under 1 MiB accepted');
  t.same(decodePairs(encodePairs([['big', 'x'.repeat(PAIRS_MAX_BYTES)]])), [], 'over 1 MiB -> empty');
});

t.test('pairs through guest memory: get, set, and the (0,0) empty result without malloc', async (t) => {
  const b = new ProxyModuleBuilder();
  const replacement = b.pairs([
    ['X-New', 'a'],
    [':path', '/rewritten'],
    ['x-new', 'b'],
  ]);
  const malformed = b.data(new Uint8Array([1, 0, 0, 0, 1, 0, 0, 0]));
  b.callback('proxy_on_request_headers', [
    { call: 'proxy_get_header_map_pairs', args: [0, slot(1), slot(2)], store: slot(0) },
    { call: 'proxy_set_header_map_pairs', args: [0, replacement], store: slot(3) },
    { call: 'proxy_get_header_map_pairs', args: [1, slot(5), slot(6)], store: slot(4) },
  ]);
  b.callback('proxy_on_response_headers', [
    { call: 'proxy_set_header_map_pairs', args: [2, malformed], store: slot(7) },
  ]);
  const host = await ProxyWasmHost.start({ wasm: b.build() });
  const mem = host.exports.memory as WebAssembly.Memory;
  const id = host.initializeHttpContext();
  const headers: Array<[string, string]> = [
    [':authority', 'h'],
    [':path', '/'],
    [':method', 'GET'],
    ['User-Agent', 'curl'],
    ['x-b3-traceid', '1'],
  ];
  host.callOnRequestHeaders(id, headers, false);
  t.equal(readU32(mem, slot(0)), WasmResult.Ok);
  const got = decodePairs(readBytes(mem, readU32(mem, slot(1)), readU32(mem, slot(2))));
  t.same(
    got,
    headers.map(([k, v]) => [k.toLowerCase(), v]),
    'guest sees lower-cased keys in order',
  );
  t.equal(readU32(mem, slot(3)), WasmResult.Ok);
  t.same(
    host.getCurrentRequestHeaders(id),
    [
      [':path', '/rewritten'],
      ['x-new', 'a'],
      ['x-new', 'b'],
    ],
    'pseudo-headers first, keys lower-cased',
  );
  const mallocsBefore = readU32(mem, MALLOC_COUNT_ADDR);
  t.equal(readU32(mem, slot(4)), WasmResult.Ok, 'request trailers pairs: Ok');
  t.same([readU32(mem, slot(5)), readU32(mem, slot(6))], [0, 0], 'absent map -> (0, 0)');
  host.callOnResponseHeaders(
    id,
    [
      [':status', '200'],
      ['a', 'b'],
    ],
    true,
  );
  t.equal(readU32(mem, slot(7)), WasmResult.Ok, 'malformed pairs are not an error ...');
  t.same(host.getCurrentResponseHeaders(id), [], '... they replace the map with nothing');
  t.equal(readU32(mem, MALLOC_COUNT_ADDR), mallocsBefore, 'no malloc for empty results');
  host.shutdown();
});
