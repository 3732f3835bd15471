// Public API of the meshwasm proxy-wasm host (see host/README.md).
export { HostLoadError, checkEnvoyLinkable } from './link-check.js';
export {
  ProxyWasmHost,
  compileModule,
  type HostOptions,
  type Action,
  type Bytes,
  type Headers,
  type LogEntry,
  type HttpCallout,
  type HostCall,
  type LocalResponse,
  type StreamState,
  type CalloutReply,
} from './host.js';
export {
  type AbiVersion,
  BufferType,
  FilterDataStatus,
  FilterHeadersStatus,
  FilterTrailersStatus,
  GrpcStatus,
  HeaderMapType,
  LogLevel,
  MetricType,
  StreamType,
  WasmResult,
  envoyImportTable,
} from './abi.js';
export { encodePairs, decodePairs, PAIRS_MAX_BYTES, PAIRS_MAX_COUNT } from './pairs.js';
export { HeaderMap } from './header-map.js';
export { parseModule, formatSig, type FuncSig, type ValType, type ModuleInfo } from './wasm-binary.js';
export {
  routerReply,
  UPSTREAM_TIMEOUT_BODY,
  CONNECT_FAILURE_BODY,
  CONNECTION_TERMINATION_BODY,
  type CalloutResponse,
} from './http-call.js';
export type { StreamSink, StreamInfoOptions } from './stream.js';
export { startGateway, type Exchange, type Gateway, type GatewayOptions } from './gateway.js';
export type { GuestWatchdog } from './guest-calls.js';
