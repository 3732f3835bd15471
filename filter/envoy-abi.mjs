// The imports Envoy (proxy-wasm-cpp-host registerCallbacks + Envoy's own) offers a module that
// exports proxy_abi_version_0_2_0, with their wasm types: FOR_ALL_HOST_FUNCTIONS, the 0.2.0 extras
// (continue_stream, close_stream), every WASI preview1 function under both wasi_unstable and
// wasi_snapshot_preview1, and the env extras. Word = i32; int64_t/uint64_t = i64.
// Anything else — env.abort, env.trace, env.seed, env.Date.now, proxy_clear_route_cache, ... — is a
// "missing import" and Envoy refuses the module. (host/abi.ts holds the same table for the Node host.)

const w = (n, result = 'i32') => `${Array(n).fill('i32').join(' ')}->${result}`;

const PROXY = {
  log: w(3), get_status: w(3), set_property: w(4), get_property: w(4), send_local_response: w(8),
  get_shared_data: w(5), set_shared_data: w(5), register_shared_queue: w(3), resolve_shared_queue: w(5),
  dequeue_shared_queue: w(3), enqueue_shared_queue: w(3), get_header_map_value: w(5), add_header_map_value: w(5),
  replace_header_map_value: w(5), remove_header_map_value: w(3), get_header_map_pairs: w(3), set_header_map_pairs: w(3),
  get_header_map_size: w(2), get_buffer_status: w(3), get_buffer_bytes: w(5), set_buffer_bytes: w(5),
  http_call: w(10), grpc_call: w(12), grpc_stream: w(9), grpc_close: w(1), grpc_cancel: w(1), grpc_send: w(4),
  set_tick_period_milliseconds: w(1), get_current_time_nanoseconds: w(1), define_metric: w(4),
  increment_metric: 'i32 i64->i32', record_metric: 'i32 i64->i32', get_metric: w(2), set_effective_context: w(1),
  done: w(0), call_foreign_function: w(6),
  // ABI 0.2.0 only
  continue_stream: w(1), close_stream: w(1),
};

const WASI = {
  fd_write: w(4), fd_read: w(4), fd_seek: 'i32 i64 i32 i32->i32', fd_close: w(1), fd_fdstat_get: w(2),
  fd_fdstat_set_flags: w(2), fd_fdstat_set_rights: 'i32 i64 i64->i32', environ_get: w(2), environ_sizes_get: w(2),
  args_get: w(2), args_sizes_get: w(2), clock_time_get: 'i32 i64 i32->i32', clock_res_get: w(2),
  fd_advise: 'i32 i64 i64 i32->i32', fd_allocate: 'i32 i64 i64->i32', fd_datasync: w(1),
  fd_filestat_set_size: 'i32 i64->i32', fd_filestat_set_times: 'i32 i64 i64 i32->i32',
  fd_pread: 'i32 i32 i32 i64 i32->i32', fd_pwrite: 'i32 i32 i32 i64 i32->i32', fd_readdir: 'i32 i32 i32 i64 i32->i32',
  fd_renumber: w(2), fd_sync: w(1), fd_tell: w(2), path_create_directory: w(3),
  path_filestat_set_times: 'i32 i32 i32 i32 i64 i64 i32->i32', path_link: w(6), path_readlink: w(6),
  path_remove_directory: w(3), path_rename: w(6), path_symlink: w(4), path_unlink_file: w(3), sock_accept: w(3),
  sock_recv: w(6), sock_send: w(5), sock_shutdown: w(2), random_get: w(2), sched_yield: w(0), poll_oneoff: w(4),
  proc_exit: 'i32->', path_open: 'i32 i32 i32 i32 i32 i64 i64 i32 i32->i32', fd_prestat_get: w(2),
  fd_prestat_dir_name: w(3), path_filestat_get: w(5), fd_filestat_get: w(2),
};

/** "module.name" -> "params->results" for everything Envoy links for ABI 0.2.0. */
export const ENVOY_IMPORTS_0_2_0 = new Map([
  ...Object.entries(PROXY).map(([n, s]) => [`env.proxy_${n}`, s]),
  ...['wasi_unstable', 'wasi_snapshot_preview1'].flatMap((m) => Object.entries(WASI).map(([n, s]) => [`${m}.${n}`, s])),
  ['env.pthread_equal', w(2)],
  ['env.emscripten_notify_memory_growth', 'i32->'],
  ['env.envoy_resolve_dns', w(3)],
]);

const VALTYPES = { 0x7f: 'i32', 0x7e: 'i64', 0x7d: 'f32', 0x7c: 'f64', 0x7b: 'v128', 0x70: 'funcref', 0x6f: 'externref' };

/**
 * Function imports of a wasm binary with their types, read from the type and import sections
 * (WebAssembly.Module.imports() carries no types). Non-function imports are reported with kind.
 */
export function readImports(bytes) {
  let p = 8;
  const u8 = bytes;
  const leb = () => { let r = 0, s = 0, c; do { c = u8[p++]; r += (c & 0x7f) * 2 ** s; s += 7; } while (c & 0x80); return r; };
  const name = () => { const n = leb(); const s = Buffer.from(u8.subarray(p, p + n)).toString('utf8'); p += n; return s; };
  const types = [];
  const imports = [];
  while (p < u8.length) {
    const id = u8[p++];
    const size = leb();
    const end = p + size;
    if (id === 1) {
      for (let n = leb(); n > 0; n--) {
        p++; // 0x60
        const params = Array.from({ length: leb() }, () => VALTYPES[u8[p++]]);
        const results = Array.from({ length: leb() }, () => VALTYPES[u8[p++]]);
        types.push(`${params.join(' ')}->${results.join(' ')}`);
      }
    } else if (id === 2) {
      for (let n = leb(); n > 0; n--) {
        const module = name();
        const field = name();
        const kind = u8[p++];
        if (kind === 0) imports.push({ name: `${module}.${field}`, kind: 'function', type: types[leb()] });
        else {
          imports.push({ name: `${module}.${field}`, kind: ['function', 'table', 'memory', 'global', 'tag'][kind] ?? String(kind) });
          break; // a non-function import already fails the check; the rest of its encoding is not needed
        }
      }
    }
    p = end;
  }
  return imports;
}

/** Problems that would make Envoy refuse to load the module; [] when every import is offered. */
export function checkEnvoyImports(bytes) {
  const problems = [];
  for (const imp of readImports(bytes)) {
    const want = ENVOY_IMPORTS_0_2_0.get(imp.name);
    if (imp.kind !== 'function') problems.push(`${imp.name}: a ${imp.kind} import (Envoy provides functions only)`);
    else if (!want) problems.push(`${imp.name}: Envoy does not provide it (missing import)`);
    else if (want !== imp.type) problems.push(`${imp.name}: type ${imp.type}, Envoy's is ${want} (import type mismatch)`);
  }
  return problems;
}
