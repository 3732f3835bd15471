// Loading and linking like Envoy: ABI detection, exact import set with signature checks, malloc,
// export signatures, start/configure failures, restricted calls during _start.
import t from 'tap';
import { HostLoadError, ProxyWasmHost, envoyImportTable, parseModule } from '../host/index.js';
import { ProxyModuleBuilder, SLOT_BASE, readU32 } from './helpers/wasm-fixtures.js';

const loadError = async (wasm: Uint8Array): Promise<string> => {
  try {
    await ProxyWasmHost.create({ wasm });
  } catch (e) {
    if (e instanceof HostLoadError) return e.message;
    throw e;
  }
  return 'loaded';
};

t.test("a wrong-signature import is rejected with Envoy's message", async (t) => {
  const wasm = new ProxyModuleBuilder().importFn('env', 'proxy_log', ['i32', 'i32'], ['i32']).build();
  t.equal(
    await loadError(wasm),
    'Failed to load Wasm module due to an import type mismatch: env.proxy_log, want: i32 i32 -> i32, but host exports: i32 i32 i32 -> i32',
  );
  const i64 = new ProxyModuleBuilder()
    .importFn('env', 'proxy_increment_metric', ['i32', 'i32'], ['i32'])
    .build();
  t.equal(
    await loadError(i64),
    'Failed to load Wasm module due to an import type mismatch: env.proxy_increment_metric, want: i32 i32 -> i32, but host exports: i32 i64 -> i32',
  );
  // proxy-runtime 0.1.8 bug B1: proxy_set_buffer_status bound to proxy_get_buffer_status with 5 params.
  const b1 = new ProxyModuleBuilder()
    .importFn('env', 'proxy_get_buffer_status', ['i32', 'i32', 'i32', 'i32', 'i32'], ['i32'])
    .build();
  t.match(
    await loadError(b1),
    /import type mismatch: env\.proxy_get_buffer_status, want: i32 i32 i32 i32 i32 -> i32, but host exports: i32 i32 i32 -> i32$/,
  );
});

t.test('AssemblyScript JS-loader imports are missing imports in Envoy', async (t) => {
  for (const [mod, name, params, results] of [
    ['env', 'abort', ['i32', 'i32', 'i32', 'i32'], []],
    ['env', 'trace', ['i32', 'i32', 'f64', 'f64', 'f64', 'f64', 'f64'], []],
    ['env', 'seed', [], ['f64']],
    ['env', 'Date.now', [], ['f64']],
    ['env', 'console.log', ['i32'], []],
  ] as const) {
    const wasm = new ProxyModuleBuilder().importFn(mod, name, [...params], [...results]).build();
    t.equal(
      await loadError(wasm),
      `Failed to load Wasm module due to a missing import: ${mod}.${name}`,
      `${mod}.${name}`,
    );
  }
});

t.test('the import set depends on the ABI version, as in registerCallbacks', async (t) => {
  const uses = (abi: '0.1.0' | '0.2.0' | '0.2.1', fn: string) =>
    new ProxyModuleBuilder({ abi }).callback('proxy_on_vm_start', [
      { call: fn, args: fn === 'proxy_get_log_level' ? [SLOT_BASE] : [] },
    ]);
  const table020 = envoyImportTable('0.2.0');
  t.notOk(table020.has('env.proxy_clear_route_cache'));
  t.notOk(table020.has('env.proxy_get_log_level'));
  t.notOk(table020.has('env.proxy_continue_request'));
  t.ok(envoyImportTable('0.1.0').has('env.proxy_clear_route_cache'));
  t.ok(envoyImportTable('0.2.1').has('env.proxy_get_log_level'));

  // proxy_clear_route_cache: ABI 0.1.0 only.
  const b020 = new ProxyModuleBuilder({ abi: '0.2.0' })
    .importFn('env', 'proxy_clear_route_cache', [], ['i32'])
    .build();
  t.equal(
    await loadError(b020),
    'Failed to load Wasm module due to a missing import: env.proxy_clear_route_cache',
  );
  const b010 = new ProxyModuleBuilder({ abi: '0.1.0' })
    .importFn('env', 'proxy_clear_route_cache', [], ['i32'])
    .build();
  t.equal(await loadError(b010), 'loaded');
  // proxy_continue_stream: 0.2.x only.
  const c010 = new ProxyModuleBuilder({ abi: '0.1.0' })
    .importFn('env', 'proxy_continue_stream', ['i32'], ['i32'])
    .build();
  t.equal(
    await loadError(c010),
    'Failed to load Wasm module due to a missing import: env.proxy_continue_stream',
  );
  // proxy_get_log_level: 0.2.1 only, and it reports Envoy's logger level (info).
  t.equal(
    await loadError(
      new ProxyModuleBuilder({ abi: '0.2.0' })
        .importFn('env', 'proxy_get_log_level', ['i32'], ['i32'])
        .build(),
    ),
    'Failed to load Wasm module due to a missing import: env.proxy_get_log_level',
  );
  const host = await ProxyWasmHost.create({ wasm: uses('0.2.1', 'proxy_get_log_level').build() });
  t.equal(host.abiVersion, '0.2.1');
  t.ok(host.startVm());
  t.equal(readU32(host.exports.memory as WebAssembly.Memory, SLOT_BASE), 2);
  host.shutdown();
});

t.test("WASI is offered under both module names with Envoy's types", async (t) => {
  const wasm = new ProxyModuleBuilder()
    .importFn('wasi_unstable', 'proc_exit', ['i32'], [])
    .importFn('wasi_snapshot_preview1', 'fd_write', ['i32', 'i32', 'i32', 'i32'], ['i32'])
    .importFn('wasi_snapshot_preview1', 'clock_time_get', ['i32', 'i64', 'i32'], ['i32'])
    .importFn('wasi_unstable', 'random_get', ['i32', 'i32'], ['i32'])
    .importFn('env', 'pthread_equal', ['i32', 'i32'], ['i32'])
    .build();
  t.equal(await loadError(wasm), 'loaded');
  const bad = new ProxyModuleBuilder()
    .importFn('wasi_snapshot_preview1', 'clock_time_get', ['i32', 'i32', 'i32'], ['i32'])
    .build();
  t.match(
    await loadError(bad),
    /import type mismatch: wasi_snapshot_preview1\.clock_time_get, want: i32 i32 i32 -> i32, but host exports: i32 i64 i32 -> i32/,
  );
  t.equal(
    await loadError(
      new ProxyModuleBuilder().importFn('wasi_snapshot_preview2', 'fd_write', ['i32'], ['i32']).build(),
    ),
    'Failed to load Wasm module due to a missing import: wasi_snapshot_preview2.fd_write',
  );
});

t.test('every Envoy host function for ABI 0.2.0 links', async (t) => {
  const b = new ProxyModuleBuilder({ abi: '0.2.0' });
  for (const [key, sig] of envoyImportTable('0.2.0')) {
    const dot = key.indexOf('.');
    b.importFn(key.slice(0, dot), key.slice(dot + 1), sig.params as never, sig.results as never);
  }
  const wasm = b.build();
  t.equal(parseModule(wasm).imports.length, envoyImportTable('0.2.0').size);
  t.equal(await loadError(wasm), 'loaded');
});

t.test('ABI detection, malloc and export checks', async (t) => {
  t.equal(
    await loadError(new ProxyModuleBuilder({ abi: null }).build()),
    'Missing or unknown Proxy-Wasm ABI version',
  );
  t.equal(
    await loadError(new ProxyModuleBuilder({ malloc: null }).build()),
    'Wasm module is missing malloc function.',
  );
  t.equal(await loadError(new ProxyModuleBuilder({ malloc: 'proxy_on_memory_allocate' }).build()), 'loaded');
  t.equal(
    await loadError(new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 7, 9, 1])),
    'Failed to parse corrupted Wasm module',
  );
  const badSig = new ProxyModuleBuilder()
    .callback('proxy_on_request_headers', [], 0, { params: ['i32', 'i32'], results: ['i32'] })
    .build();
  t.equal(
    await loadError(badSig),
    'Bad function signature for: proxy_on_request_headers, want: i32 i32 i32 -> i32, but the module exports: i32 i32 -> i32',
  );
  // ABI 0.1.0 has the two-argument header callbacks.
  const old = new ProxyModuleBuilder({ abi: '0.1.0' }).callback('proxy_on_request_headers').build();
  const host = await ProxyWasmHost.start({ wasm: old });
  t.equal(host.abiVersion, '0.1.0');
  const id = host.initializeHttpContext();
  host.callOnRequestHeaders(id, [[':path', '/']], true);
  t.same(host.getVmCallTrace().find((c) => c.fn === 'proxy_on_request_headers')?.args, [id, 1]);
  host.shutdown();
  await t.rejects(
    ProxyWasmHost.create({ wasm: await WebAssembly.compile(old as Uint8Array<ArrayBuffer>) }),
    HostLoadError,
  );
});

t.test('start() fails like Envoy when on_vm_start or on_configure return false or trap', async (t) => {
  const noStart = new ProxyModuleBuilder().callback('proxy_on_vm_start', [], 0).build();
  await t.rejects(ProxyWasmHost.start({ wasm: noStart }), { message: 'Failed to start base Wasm VM' });
  const noConfig = new ProxyModuleBuilder()
    .callback('proxy_on_configure', [{ log: 'bad config', level: 5 }], 0)
    .build();
  await t.rejects(ProxyWasmHost.start({ wasm: noConfig }), {
    message: 'Failed to configure base Wasm plugin',
  });
  const trap = new ProxyModuleBuilder().callback('proxy_on_configure', [{ trap: true }]).build();
  await t.rejects(ProxyWasmHost.start({ wasm: trap }), {
    message: /^Failed to configure base Wasm plugin \(Function: proxy_on_configure failed: .*unreachable/,
  });
});

t.test("_start runs with Envoy's restricted host-call list", async (t) => {
  const ok = new ProxyModuleBuilder().callback('_start', [{ log: 'starting' }]).build();
  const h1 = await ProxyWasmHost.create({ wasm: ok });
  t.notOk(h1.isFailed());
  t.equal(h1.getLogs()[0]?.message, 'starting');
  t.same(
    h1.getVmCallTrace().map((c) => c.fn),
    ['_start'],
  );
  h1.shutdown();
  const cl = new ProxyModuleBuilder();
  const cluster = cl.data('c');
  const restricted = cl
    .callback('_start', [
      { call: 'proxy_http_call', args: [cluster, cluster, cluster, cluster, 0, SLOT_BASE] },
    ])
    .build();
  const h2 = await ProxyWasmHost.create({ wasm: restricted, clusters: { c: 'manual' } });
  t.ok(h2.isFailed(), 'a restricted call during _start traps');
  t.match(h2.getLogs().at(-1)?.message, /Function: _start failed: restricted_callback/);
  t.notOk(h2.startVm());
  h2.shutdown();
});
