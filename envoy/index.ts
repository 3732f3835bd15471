// The real-Envoy harness (see envoy/README.md): write a bootstrap, run Envoy on it, read its stats.
export {
  type BootstrapOptions,
  type WasmFilterOptions,
  DEFAULT_ACCESS_LOG_FORMAT,
  UPSTREAM_CLUSTER,
  clusterFor,
  wasmHttpFilter,
  writeBootstrap,
} from './bootstrap.js';
export { bootstrapOptionsFromModel, type ModelTargets } from './model.js';
export { findEnvoy, INSTALL_ENVOY_HINT } from './locate.js';
export {
  type EnvoyInstance,
  type EnvoyOptions,
  EnvoyStartError,
  LOG_FORMAT,
  WASM_METRIC_PREFIX,
  adminGet,
  readStats,
  startEnvoy,
  validateBootstrap,
  wasmMetrics,
} from './process.js';
