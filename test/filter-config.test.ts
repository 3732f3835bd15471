// The filter's configuration (filter/config.schema.json) as proxy_on_configure sees it: empty means
// the defaults, every invalid value is refused with one critical log line naming the field, and
// nothing traps.
import Ajv from 'ajv';
import { readFileSync } from 'node:fs';
import t from 'tap';
import { FilterHeadersStatus, LogLevel } from '../host/index.js';
import {
  CLUSTER,
  CLUSTER_HOST,
  PLUGIN,
  clientRequest,
  header,
  loadFilter,
  metrics,
  startFilter,
} from './helpers/filter-host.js';
// @ts-expect-error plain JS module without types
import { envoyLoadProblem } from '../filter/build.mjs';
import { parseModule } from '../host/wasm-binary.js';
import { ProxyModuleBuilder } from './helpers/wasm-fixtures.js';

const schema = JSON.parse(readFileSync(new URL('../filter/config.schema.json', import.meta.url), 'utf8'));
const validate = new Ajv.default({ strict: false }).compile(schema);

t.test('empty configuration: the defaults, no cluster, one warning, traffic passes untouched', async (t) => {
  for (const [label, raw] of [
    ['0 bytes', ''],
    ['{}', '{}'],
    ['whitespace', ' \n\t '],
    ['{} with spaces', ' { } '],
  ] as const) {
    const { host, configured, calls } = await loadFilter(raw, { raw: true });
    t.equal(configured, true, `${label}: accepted`);
    const logs = host.getLogs(LogLevel.debug);
    t.same(
      logs.map((l) => [l.level, l.message]),
      [[LogLevel.warn, 'meshwasm: no cluster configured: passing traffic through without callouts']],
      `${label}: exactly one warning`,
    );
    const id = host.initializeHttpContext();
    t.equal(host.callOnRequestHeaders(id, clientRequest(), true), FilterHeadersStatus.Continue);
    t.equal(host.callOnResponseHeaders(id, [[':status', '200']], true), FilterHeadersStatus.Continue);
    host.completeHttpContext(id);
    t.same(host.getHttpCallouts(), [], `${label}: no callout`);
    t.notOk(
      calls().some((c) => c.name === 'proxy_http_call' || c.name === 'proxy_get_header_map_pairs'),
      `${label}: no work per request`,
    );
    t.same(
      metrics(host),
      { started: 0n, succeeded: 0n, failed: 0n, skippedInFlight: 0n, skippedSampling: 0n, inFlight: 0n },
      `${label}: metrics are defined and zero`,
    );
    t.notOk(host.isFailed());
  }
});

t.test('only a cluster: every other field takes its documented default', async (t) => {
  const { host } = await startFilter({ cluster: CLUSTER });
  t.same(host.getLogs(LogLevel.debug), [], 'nothing logged');
  const id = host.initializeHttpContext();
  // default mode async: the request is not held
  t.equal(host.callOnRequestHeaders(id, clientRequest(), true), FilterHeadersStatus.Continue);
  const callouts = host.getHttpCallouts();
  t.equal(callouts.length, 1, 'default fanOut 1');
  const c = callouts[0]!;
  t.equal(c.cluster, CLUSTER);
  t.equal(header(c.headers, ':method'), 'GET', 'default method');
  t.equal(header(c.headers, ':path'), '/jump', 'default path');
  t.equal(header(c.headers, ':authority'), CLUSTER_HOST, 'authority: the host part of an Istio cluster name');
  t.equal(c.timeoutMs, 5000, 'default timeoutMs');
  t.equal(c.body.length, 0, 'default body: none');
  t.notOk(c.headers.some(([k]) => k === 'content-length'));
  // default propagation: x-request-id, traceparent, tracestate, b3, x-b3-*
  const forwarded = c.headers
    .filter(([k]) => !k.startsWith(':') && !k.startsWith('x-envoy-'))
    .map(([k]) => k);
  t.same(forwarded.sort(), ['traceparent', 'x-b3-spanid', 'x-b3-traceid', 'x-request-id']);
  // default trigger: request (nothing happens on the response)
  t.equal(host.callOnResponseHeaders(id, [[':status', '200']], true), FilterHeadersStatus.Continue);
  t.equal(host.getHttpCallouts().length, 1);
  host.completeHttpContext(id);
});

t.test('authority: explicit, or the cluster name when it is not Istio-style', async (t) => {
  for (const [cfg, want] of [
    [{ cluster: 'back_python' }, 'back_python'],
    [{ cluster: 'outbound|8444||' }, 'outbound|8444||'],
    [{ cluster: CLUSTER, authority: 'jump.example:8444' }, 'jump.example:8444'],
  ] as const) {
    const { host } = await startFilter(cfg, { clusters: { [cfg.cluster]: 'manual' } });
    const id = host.initializeHttpContext();
    host.callOnRequestHeaders(id, clientRequest(), true);
    t.equal(header(host.getHttpCallouts()[0]!.headers, ':authority'), want, JSON.stringify(cfg));
  }
});

t.test('JSON details: escapes, numbers written as floats or exponents, repeated keys', async (t) => {
  const raw =
    '{"cluster":"c","path":"/j\\u0075mp?q=\\"x\\"","fanOut":2.0,"timeoutMs":2.5e3,"method":"POST","method":"PUT",' +
    '"headers":{"x-note":"caf\\u00e9 \\ud83d\\ude00","x-note":"last"},"body":"a\\nb"}';
  const { host, configured } = await loadFilter(raw, { raw: true, clusters: { c: 'manual' } });
  t.equal(configured, true);
  const id = host.initializeHttpContext();
  host.callOnRequestHeaders(id, clientRequest(), true);
  const c = host.getHttpCallouts()[0]!;
  t.equal(header(c.headers, ':path'), '/jump?q="x"');
  t.equal(header(c.headers, ':method'), 'PUT', 'a repeated key keeps its last value');
  t.equal(header(c.headers, 'x-note'), 'last');
  t.equal(c.timeoutMs, 2500);
  t.equal(host.getHttpCallouts().length, 2);
  t.equal(Buffer.from(c.body).toString(), 'a\nb');
  const { host: h2 } = await loadFilter('{"cluster":"c","headers":{"x-u":"caf\\u00e9 \\ud83d\\ude00"}}', {
    raw: true,
    clusters: { c: 'manual' },
  });
  const id2 = h2.initializeHttpContext();
  h2.callOnRequestHeaders(id2, clientRequest(), true);
  t.equal(
    header(h2.getHttpCallouts()[0]!.headers, 'x-u'),
    'café 😀',
    '\\u escapes and surrogate pairs become UTF-8',
  );
});

// Each case: the configuration, the exact critical line. The schema must reject the same document,
// so the CLI (which validates with the schema) and the filter agree.
const INVALID: Array<[string, string, boolean?]> = [
  ['{"fanOut": 100}', 'fanOut: must be an integer between 0 and 64'],
  ['{"fanOut": -1}', 'fanOut: must be an integer between 0 and 64'],
  ['{"fanOut": 1.5}', 'fanOut: must be an integer between 0 and 64'],
  ['{"fanOut": "3"}', 'fanOut: must be an integer between 0 and 64'],
  ['{"fanOut": null}', 'fanOut: must be an integer between 0 and 64'],
  ['{"cluster": ""}', 'cluster: must be a non-empty string of at most 512 characters'],
  ['{"cluster": 7}', 'cluster: must be a non-empty string of at most 512 characters'],
  [`{"cluster": "${'c'.repeat(513)}"}`, 'cluster: must be a non-empty string of at most 512 characters'],
  [
    '{"authority": "a\\r\\nb"}',
    'authority: must be a non-empty string of at most 512 characters without control characters',
  ],
  ['{"method": "get"}', 'method: must be a non-empty string of at most 16 characters of letters A-Z'],
  [
    '{"path": "jump"}',
    "path: must be a non-empty string of at most 2048 characters starting with '/', without control characters",
  ],
  [
    '{"path": "/a\\nb"}',
    "path: must be a non-empty string of at most 2048 characters starting with '/', without control characters",
  ],
  ['{"timeoutMs": 0}', 'timeoutMs: must be an integer between 1 and 600000'],
  ['{"timeoutMs": 600001}', 'timeoutMs: must be an integer between 1 and 600000'],
  ['{"headers": []}', 'headers: must be an object of at most 64 header names to strings'],
  [
    '{"headers": {"X-Up": "1"}}',
    'headers: "X-Up" is not a lower-case header name (RFC 9110 token) of at most 256 characters',
  ],
  [
    '{"headers": {":path": "/x"}}',
    'headers: ":path" is not a lower-case header name (RFC 9110 token) of at most 256 characters',
  ],
  [
    '{"headers": {"x-a": 1}}',
    'headers."x-a": must be a string of at most 8192 characters without control characters',
  ],
  [
    '{"headers": {"x-a": "1\\r\\nx-b: 2"}}',
    'headers."x-a": must be a string of at most 8192 characters without control characters',
  ],
  [
    `{"headers": {${Array.from({ length: 65 }, (_, i) => `"h${i}":"v"`).join(',')}}}`,
    'headers: must be an object of at most 64 header names to strings',
  ],
  ['{"body": 1}', 'body: must be a string of at most 65536 characters'],
  ['{"trigger": "both"}', 'trigger: must be "request" or "response"'],
  ['{"mode": "sync"}', 'mode: must be "async" or "blocking"'],
  ['{"mode": "Blocking"}', 'mode: must be "async" or "blocking"'],
  ['{"failureStatus": 100}', 'failureStatus: must be 0 or an integer between 200 and 599'],
  ['{"failureStatus": 600}', 'failureStatus: must be 0 or an integer between 200 and 599'],
  [
    '{"outcomeHeader": "Total-Dispatched"}',
    'outcomeHeader: must be empty or a lower-case header name (RFC 9110 token) of at most 256 characters',
  ],
  ['{"propagateHeaders": "x-request-id"}', 'propagateHeaders: must be an array of at most 64 header names'],
  [
    '{"propagateHeaders": ["x-request-id", "X-B3-*"]}',
    "propagateHeaders[1]: must be a lower-case header name (RFC 9110 token) of at most 256 characters, optionally ending in '*'",
  ],
  [
    '{"propagateHeaders": [""]}',
    "propagateHeaders[0]: must be a lower-case header name (RFC 9110 token) of at most 256 characters, optionally ending in '*'",
  ],
  [
    `{"propagateHeaders": [${Array.from({ length: 65 }, (_, i) => `"h${i}"`).join(',')}]}`,
    'propagateHeaders: must be an array of at most 64 header names',
  ],
  ['{"maxInFlight": 0}', 'maxInFlight: must be an integer between 1 and 1000000'],
  ['{"sampleRate": 1.5}', 'sampleRate: must be a number between 0 and 1'],
  ['{"sampleRate": "0.5"}', 'sampleRate: must be a number between 0 and 1'],
  ['{"mode": "blocking", "fanOut": 0}', 'fanOut: must be at least 1 in blocking mode'],
  ['{"clusterName": "x"}', '"clusterName": unknown field (see filter/config.schema.json)'],
  ['"auth_service"', 'configuration: must be a JSON object'],
  ['[{"cluster": "x"}]', 'configuration: must be a JSON object'],
  ['null', 'configuration: must be a JSON object'],
  // syntax errors name the byte
  ['{"cluster": "x"', "not valid JSON at byte 15: expected ',' or '}'", false],
  ['{"cluster": "x",}', "not valid JSON at byte 16: trailing ','", false],
  ['{"fanOut": 01}', 'not valid JSON at byte 11: bad number', false],
  ['{"cluster": "a\tb"}', 'not valid JSON at byte 14: control character in string', false],
  ['{"cluster": "x"} {}', 'not valid JSON at byte 17: unexpected data after the object', false],
  ['{cluster: "x"}', 'not valid JSON at byte 1: expected a member name', false],
  ['{"path": "/\\q"}', 'not valid JSON at byte 11: bad escape', false],
];

t.test(
  'invalid configuration: proxy_on_configure returns false with one critical line naming the field',
  async (t) => {
    for (const [raw, problem, jsonParses = true] of INVALID) {
      const { host, configured } = await loadFilter(raw, { raw: true });
      t.equal(configured, false, `${raw.slice(0, 60)}: rejected`);
      const logs = host.getLogs(LogLevel.debug);
      t.same(
        logs.map((l) => [l.level, l.message]),
        [[LogLevel.critical, `meshwasm: invalid configuration: ${problem}`]],
        `${raw.slice(0, 60)}: the log line`,
      );
      t.notOk(host.isFailed(), `${raw.slice(0, 60)}: no trap`);
      if (jsonParses) t.notOk(validate(JSON.parse(raw)), `${raw.slice(0, 60)}: the schema rejects it too`);
    }
  },
);

t.test('valid configurations are valid for the schema too', async (t) => {
  const full = {
    cluster: CLUSTER,
    authority: 'back-python',
    method: 'POST',
    path: '/jump?x=1',
    timeoutMs: 250,
    headers: { 'x-jump': 'yes', 'x-tab': 'a\tb' },
    body: '{"hop":1}',
    trigger: 'response',
    mode: 'blocking',
    failureStatus: 503,
    fanOut: 10,
    outcomeHeader: 'total-dispatched',
    propagateHeaders: ['x-request-id', 'authorization', 'x-*'],
    maxInFlight: 100,
    sampleRate: 0.25,
  };
  for (const cfg of [
    {},
    { cluster: CLUSTER },
    full,
    { cluster: 'c', propagateHeaders: [] },
    { cluster: 'c', sampleRate: 0, fanOut: 0 },
  ]) {
    t.ok(validate(cfg), `schema accepts ${JSON.stringify(cfg).slice(0, 50)}`);
    const { configured, host } = await loadFilter(cfg, { clusters: { [CLUSTER]: 'manual', c: 'manual' } });
    t.equal(configured, true, `filter accepts ${JSON.stringify(cfg).slice(0, 50)}`);
    t.equal(host.getLogs(LogLevel.critical).length, 0);
  }
});

t.test('blocking-only fields in async mode are accepted with a warning', async (t) => {
  const { host } = await startFilter({ cluster: CLUSTER, failureStatus: 503, outcomeHeader: 'x-outcome' });
  t.same(
    host.getLogs(LogLevel.debug).map((l) => l.message),
    ['meshwasm: failureStatus and outcomeHeader are ignored in async mode'],
  );
});

t.test(
  "a blank or unregistered root_id selects the filter's only root context instead of trapping",
  async (t) => {
    for (const rootId of ['', 'my-plugin']) {
      const { host, configured } = await loadFilter({ cluster: CLUSTER }, { rootId });
      t.equal(configured, true, `root_id "${rootId}"`);
      t.notOk(host.isFailed());
      const id = host.initializeHttpContext();
      host.callOnRequestHeaders(id, clientRequest(), true);
      t.equal(host.getHttpCallouts().length, 1);
    }
  },
);

t.test(
  'mangled configurations never trap: accepted, or refused with exactly one critical line',
  async (t) => {
    // Deterministic mutations (insert / delete / truncate) of a few documents, bytes included that are
    // not valid UTF-8 or JSON at all.
    let seed = 20261126;
    const rnd = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
    const pick = <T>(a: readonly T[]): T => a[Math.floor(rnd() * a.length)]!;
    const docs = [
      '{"cluster":"c","headers":{"x-a":"b"},"propagateHeaders":["x-*","authorization"],"mode":"blocking","fanOut":3,"outcomeHeader":"x-o","sampleRate":0.5}',
      '{"cluster":"outbound|1||h","path":"/j\\u0075mp","body":"\\ud83d\\ude00","timeoutMs":1e3,"trigger":"response"}',
      '[1,{"a":[{}]}]',
    ];
    const bits = [
      '{',
      '}',
      '[',
      ']',
      '"',
      ':',
      ',',
      '\\',
      'u',
      '0',
      '9',
      '-',
      '.',
      'e',
      ' ',
      'a',
      '*',
      '\x00',
      '\xff',
      'cluster',
      '"fanOut"',
      'null',
      '1e999',
      '\\ud800',
    ];
    let accepted = 0;
    for (let i = 0; i < 300; i++) {
      let s = pick(docs);
      for (let e = 1 + Math.floor(rnd() * 3); e > 0; e--) {
        const at = Math.floor(rnd() * (s.length + 1));
        const op = rnd();
        if (op < 0.45) s = s.slice(0, at) + pick(bits) + s.slice(at);
        else if (op < 0.8) s = s.slice(0, at) + s.slice(at + 1 + Math.floor(rnd() * 3));
        else s = s.slice(0, at);
      }
      const { host, configured } = await loadFilter(Buffer.from(s, 'latin1'), {
        raw: true,
        clusters: { c: 'manual', 'outbound|1||h': 'manual' },
      });
      if (host.isFailed()) t.fail(`trapped on ${JSON.stringify(s)}`);
      const critical = host.getLogs(LogLevel.critical);
      if (configured) accepted++;
      else if (critical.length !== 1 || !critical[0]!.message.startsWith('meshwasm: invalid configuration: '))
        t.fail(`${JSON.stringify(s)}: ${JSON.stringify(critical)}`);
    }
    t.ok(accepted > 0 && accepted < 300, `some accepted (${accepted}), most refused`);
  },
);

t.test('the compiled module imports only what Envoy offers for ABI 0.2.0', async (t) => {
  const imports = parseModule(PLUGIN).imports.map((i) => `${i.module}.${i.name}`);
  t.ok(imports.length > 5);
  t.equal(await envoyLoadProblem(PLUGIN), undefined, 'the build check accepts plugin.wasm');
  t.ok(
    imports.every((name) => name.startsWith('env.proxy_') || name === 'wasi_unstable.proc_exit'),
    imports.join(' '),
  );
  for (const banned of [
    'env.abort',
    'env.trace',
    'env.seed',
    'env.Date.now',
    'env.proxy_clear_route_cache',
  ]) {
    t.notOk(imports.includes(banned), `no ${banned}`);
  }
  // and the build check does catch what Envoy would refuse: a module importing env.abort, or a mistyped proxy_log
  const abort = new ProxyModuleBuilder({ abi: '0.2.0' })
    .importFn('env', 'abort', ['i32', 'i32', 'i32', 'i32'], [])
    .build();
  t.equal(await envoyLoadProblem(abort), 'Failed to load Wasm module due to a missing import: env.abort');
  const mistyped = new ProxyModuleBuilder({ abi: '0.2.0' }).importFn('env', 'proxy_log', ['i32'], []).build();
  t.match(
    await envoyLoadProblem(mistyped),
    /^Failed to load Wasm module due to an import type mismatch: env\.proxy_log, want: i32 -> void, but host exports: i32 i32 i32 -> i32$/,
  );
  const otherAbi = new ProxyModuleBuilder({ abi: '0.2.1' }).build();
  t.equal(await envoyLoadProblem(otherAbi), 'it exports ABI 0.2.1, the filter is built for 0.2.0');
});
