// The proxy-wasm ABI as Envoy implements it: enum values, the exact set of host functions Envoy
// registers for each ABI version (proxy-wasm-cpp-host src/wasm.cc registerCallbacks + Envoy's
// Wasm::registerCallbacks), their wasm types (cpp-host include/proxy-wasm/exports.h, Word = i32,
// int64_t/uint64_t = i64), and the types Envoy expects for the module's own exports (wasm.h).

import type { FuncSig, ValType } from './wasm-binary.js';

export type AbiVersion = '0.1.0' | '0.2.0' | '0.2.1';

export const FilterHeadersStatus = {
  Continue: 0,
  StopIteration: 1,
  ContinueAndEndStream: 2,
  StopAllIterationAndBuffer: 3,
  StopAllIterationAndWatermark: 4,
} as const;

export const FilterDataStatus = {
  Continue: 0,
  StopIterationAndBuffer: 1,
  StopIterationAndWatermark: 2,
  StopIterationNoBuffer: 3,
} as const;

export const FilterTrailersStatus = { Continue: 0, StopIteration: 1 } as const;

export const WasmResult = {
  Ok: 0,
  NotFound: 1,
  BadArgument: 2,
  SerializationFailure: 3,
  ParseFailure: 4,
  BadExpression: 5,
  InvalidMemoryAccess: 6,
  Empty: 7,
  CasMismatch: 8,
  ResultMismatch: 9,
  InternalFailure: 10,
  BrokenConnection: 11,
  Unimplemented: 12,
} as const;

export const LogLevel = { trace: 0, debug: 1, info: 2, warn: 3, error: 4, critical: 5 } as const;
export type LogLevel = (typeof LogLevel)[keyof typeof LogLevel];
export const LOG_LEVEL_NAMES = ['trace', 'debug', 'info', 'warn', 'error', 'critical'] as const;

export const HeaderMapType = {
  RequestHeaders: 0,
  RequestTrailers: 1,
  ResponseHeaders: 2,
  ResponseTrailers: 3,
  GrpcReceiveInitialMetadata: 4,
  GrpcReceiveTrailingMetadata: 5,
  HttpCallResponseHeaders: 6,
  HttpCallResponseTrailers: 7,
} as const;

export const BufferType = {
  HttpRequestBody: 0,
  HttpResponseBody: 1,
  NetworkDownstreamData: 2,
  NetworkUpstreamData: 3,
  HttpCallResponseBody: 4,
  GrpcReceiveBuffer: 5,
  VmConfiguration: 6,
  PluginConfiguration: 7,
  CallData: 8,
} as const;

export const StreamType = { Request: 0, Response: 1, Downstream: 2, Upstream: 3 } as const;
export const MetricType = { Counter: 0, Gauge: 1, Histogram: 2 } as const;

export const GrpcStatus = {
  Ok: 0,
  Canceled: 1,
  Unknown: 2,
  InvalidArgument: 3,
  DeadlineExceeded: 4,
  NotFound: 5,
  AlreadyExists: 6,
  PermissionDenied: 7,
  ResourceExhausted: 8,
  FailedPrecondition: 9,
  Aborted: 10,
  OutOfRange: 11,
  Unimplemented: 12,
  Internal: 13,
  Unavailable: 14,
  DataLoss: 15,
  Unauthenticated: 16,
  InvalidCode: -1,
} as const;

/** "i32 i32 -> i32" style shorthand, so the tables below read like Envoy's declarations. */
function sig(text: string): FuncSig {
  const [p, r] = text.split('->').map((s) => s.trim());
  const list = (s: string | undefined): ValType[] =>
    !s || s === 'void' ? [] : (s.split(/\s+/) as ValType[]);
  return { params: list(p), results: list(r) };
}

const words = (n: number, result = 'i32') => sig(`${Array(n).fill('i32').join(' ') || 'void'} -> ${result}`);

/** FOR_ALL_HOST_FUNCTIONS: registered for every ABI version (prefix proxy_). */
const COMMON_HOST_FUNCTIONS: Record<string, FuncSig> = {
  log: words(3),
  get_status: words(3),
  set_property: words(4),
  get_property: words(4),
  send_local_response: words(8),
  get_shared_data: words(5),
  set_shared_data: words(5),
  register_shared_queue: words(3),
  resolve_shared_queue: words(5),
  dequeue_shared_queue: words(3),
  enqueue_shared_queue: words(3),
  get_header_map_value: words(5),
  add_header_map_value: words(5),
  replace_header_map_value: words(5),
  remove_header_map_value: words(3),
  get_header_map_pairs: words(3),
  set_header_map_pairs: words(3),
  get_header_map_size: words(2),
  get_buffer_status: words(3),
  get_buffer_bytes: words(5),
  set_buffer_bytes: words(5),
  http_call: words(10),
  grpc_call: words(12),
  grpc_stream: words(9),
  grpc_close: words(1),
  grpc_cancel: words(1),
  grpc_send: words(4),
  set_tick_period_milliseconds: words(1),
  get_current_time_nanoseconds: words(1),
  define_metric: words(4),
  increment_metric: sig('i32 i64 -> i32'),
  record_metric: sig('i32 i64 -> i32'),
  get_metric: words(2),
  set_effective_context: words(1),
  done: words(0),
  call_foreign_function: words(6),
};

/** FOR_ALL_HOST_FUNCTIONS_ABI_SPECIFIC, split the way registerCallbacks registers them. */
const ABI_SPECIFIC: Record<AbiVersion, Record<string, FuncSig>> = {
  '0.1.0': {
    get_configuration: words(2),
    continue_request: words(0),
    continue_response: words(0),
    clear_route_cache: words(0),
  },
  '0.2.0': { continue_stream: words(1), close_stream: words(1) },
  '0.2.1': { continue_stream: words(1), close_stream: words(1), get_log_level: words(1) },
};

/** FOR_ALL_WASI_FUNCTIONS, registered under both wasi_unstable and wasi_snapshot_preview1. */
export const WASI_FUNCTIONS: Record<string, FuncSig> = {
  fd_write: words(4),
  fd_read: words(4),
  fd_seek: sig('i32 i64 i32 i32 -> i32'),
  fd_close: words(1),
  fd_fdstat_get: words(2),
  fd_fdstat_set_flags: words(2),
  fd_fdstat_set_rights: sig('i32 i64 i64 -> i32'),
  environ_get: words(2),
  environ_sizes_get: words(2),
  args_get: words(2),
  args_sizes_get: words(2),
  clock_time_get: sig('i32 i64 i32 -> i32'),
  clock_res_get: words(2),
  fd_advise: sig('i32 i64 i64 i32 -> i32'),
  fd_allocate: sig('i32 i64 i64 -> i32'),
  fd_datasync: words(1),
  fd_filestat_set_size: sig('i32 i64 -> i32'),
  fd_filestat_set_times: sig('i32 i64 i64 i32 -> i32'),
  fd_pread: sig('i32 i32 i32 i64 i32 -> i32'),
  fd_pwrite: sig('i32 i32 i32 i64 i32 -> i32'),
  fd_readdir: sig('i32 i32 i32 i64 i32 -> i32'),
  fd_renumber: words(2),
  fd_sync: words(1),
  fd_tell: words(2),
  path_create_directory: words(3),
  path_filestat_set_times: sig('i32 i32 i32 i32 i64 i64 i32 -> i32'),
  path_link: words(6),
  path_readlink: words(6),
  path_remove_directory: words(3),
  path_rename: words(6),
  path_symlink: words(4),
  path_unlink_file: words(3),
  sock_accept: words(3),
  sock_recv: words(6),
  sock_send: words(5),
  sock_shutdown: words(2),
  random_get: words(2),
  sched_yield: words(0),
  poll_oneoff: words(4),
  proc_exit: sig('i32 -> void'),
  path_open: sig('i32 i32 i32 i32 i32 i64 i64 i32 i32 -> i32'),
  fd_prestat_get: words(2),
  fd_prestat_dir_name: words(3),
  path_filestat_get: words(5),
  fd_filestat_get: words(2),
};

export const WASI_MODULES = ['wasi_unstable', 'wasi_snapshot_preview1'] as const;

/** Plain env functions registered by cpp-host and by Envoy itself. */
const ENV_EXTRAS: Record<string, FuncSig> = {
  pthread_equal: words(2),
  emscripten_notify_memory_growth: sig('i32 -> void'),
  envoy_resolve_dns: words(3),
};

/**
 * Every import Envoy can satisfy for a module of this ABI, keyed "module.name". Anything else
 * (env.abort, env.trace, env.seed, env.Date.now, proxy_clear_route_cache on 0.2.x, ...) is a
 * missing import in Envoy.
 */
export function envoyImportTable(abi: AbiVersion): Map<string, FuncSig> {
  const table = new Map<string, FuncSig>();
  for (const [name, s] of Object.entries(ENV_EXTRAS)) table.set(`env.${name}`, s);
  for (const mod of WASI_MODULES) {
    for (const [name, s] of Object.entries(WASI_FUNCTIONS)) table.set(`${mod}.${name}`, s);
  }
  for (const [name, s] of Object.entries(COMMON_HOST_FUNCTIONS)) table.set(`env.proxy_${name}`, s);
  for (const [name, s] of Object.entries(ABI_SPECIFIC[abi])) table.set(`env.proxy_${name}`, s);
  return table;
}

/**
 * Types Envoy expects for module exports it looks up (wasm.h WasmCallWord<N>/WasmCallVoid<N>).
 * A function export with one of these names but another type fails the load with
 * "Bad function signature for: ...".
 */
export function envoyExportTable(abi: AbiVersion): Map<string, FuncSig> {
  const t = new Map<string, FuncSig>([
    ['_initialize', sig('void -> void')],
    ['_start', sig('void -> void')],
    ['main', words(2)],
    ['__main_void', words(0)],
    ['malloc', words(1)],
    ['proxy_on_memory_allocate', words(1)],
    ['proxy_validate_configuration', words(2)],
    ['proxy_on_vm_start', words(2)],
    ['proxy_on_configure', words(2)],
    ['proxy_on_tick', sig('i32 -> void')],
    ['proxy_on_context_create', sig('i32 i32 -> void')],
    ['proxy_on_new_connection', words(1)],
    ['proxy_on_downstream_data', words(3)],
    ['proxy_on_upstream_data', words(3)],
    ['proxy_on_downstream_connection_close', sig('i32 i32 -> void')],
    ['proxy_on_upstream_connection_close', sig('i32 i32 -> void')],
    ['proxy_on_request_headers', abi === '0.1.0' ? words(2) : words(3)],
    ['proxy_on_request_body', words(3)],
    ['proxy_on_request_trailers', words(2)],
    ['proxy_on_request_metadata', words(2)],
    ['proxy_on_response_headers', abi === '0.1.0' ? words(2) : words(3)],
    ['proxy_on_response_body', words(3)],
    ['proxy_on_response_trailers', words(2)],
    ['proxy_on_response_metadata', words(2)],
    ['proxy_on_http_call_response', sig('i32 i32 i32 i32 i32 -> void')],
    ['proxy_on_grpc_receive', sig('i32 i32 i32 -> void')],
    ['proxy_on_grpc_close', sig('i32 i32 i32 -> void')],
    ['proxy_on_grpc_receive_initial_metadata', sig('i32 i32 i32 -> void')],
    ['proxy_on_grpc_receive_trailing_metadata', sig('i32 i32 i32 -> void')],
    ['proxy_on_queue_ready', sig('i32 i32 -> void')],
    ['proxy_on_done', words(1)],
    ['proxy_on_log', sig('i32 -> void')],
    ['proxy_on_delete', sig('i32 -> void')],
    ['envoy_on_resolve_dns', sig('i32 i32 i32 -> void')],
    ['envoy_on_stats_update', sig('i32 i32 -> void')],
  ]);
  if (abi !== '0.1.0') t.set('proxy_on_foreign_function', sig('i32 i32 i32 -> void'));
  return t;
}

/** ABI detection like cpp-host BytecodeUtil::getAbiVersion: the first matching function export wins. */
export function detectAbi(exports: Array<{ name: string; kind: string }>): AbiVersion | undefined {
  for (const e of exports) {
    if (e.kind !== 'function') continue;
    if (e.name === 'proxy_abi_version_0_1_0') return '0.1.0';
    if (e.name === 'proxy_abi_version_0_2_0') return '0.2.0';
    if (e.name === 'proxy_abi_version_0_2_1') return '0.2.1';
  }
  return undefined;
}

/**
 * Host calls allowed while _initialize/_start run (cpp-host WasmBase::startVm). WASI names are the
 * same under wasi_unstable and wasi_snapshot_preview1, so the sets hold bare function names.
 */
export const START_ALLOWED_HOSTCALLS: ReadonlySet<string> = new Set([
  'emscripten_notify_memory_growth',
  'proxy_log',
  'fd_write',
  'args_sizes_get',
  'args_get',
  'environ_sizes_get',
  'environ_get',
  'clock_time_get',
  'clock_res_get',
  'random_get',
  'poll_oneoff',
  'fd_fdstat_get',
  'fd_fdstat_set_flags',
  'fd_advise',
  'fd_allocate',
  'fd_datasync',
  'fd_fdstat_set_rights',
  'fd_filestat_get',
  'fd_filestat_set_size',
  'fd_filestat_set_times',
  'fd_pread',
  'fd_prestat_dir_name',
  'fd_prestat_get',
  'fd_pwrite',
  'fd_readdir',
  'fd_renumber',
  'fd_sync',
  'fd_tell',
  'path_create_directory',
  'path_filestat_get',
  'path_filestat_set_times',
  'path_link',
  'path_readlink',
  'path_remove_directory',
  'path_rename',
  'path_symlink',
  'path_unlink_file',
  'sock_accept',
  'sock_recv',
  'sock_send',
  'sock_shutdown',
]);

/** Host calls allowed while the host runs the guest's malloc (cpp-host WasmBase::allocMemory). */
export const MALLOC_ALLOWED_HOSTCALLS: ReadonlySet<string> = new Set([
  'proxy_log',
  'fd_write',
  'clock_time_get',
  'poll_oneoff',
]);
