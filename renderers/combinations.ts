import type { ModuleSource } from './module-source.js';
import type { Shape, Target } from './settings.js';
import type { ResolvedValues } from './values.js';
import {
  firstVersionWith,
  meshFeatures,
  parseMeshVersion,
  SUPPORTED_MESH_VERSIONS,
  type MeshFeatures,
  type MeshVersion,
} from './versions.js';

/**
 * Rules that involve more than one setting: which target takes which mesh version and shape, how
 * each shape attaches, what each target can do with the module source and the failure settings,
 * and the filter modes. Each broken rule is a UsageError naming the flag to change.
 */

const SHAPES_BY_TARGET: Record<Target, readonly Shape[]> = {
  ossm: ['sidecar', 'gateway', 'gateway-api', 'waypoint'],
  envoyfilter: ['sidecar', 'gateway', 'gateway-api', 'waypoint'],
  'envoy-gateway': ['gateway-api', 'route'],
};

/** targetRef kinds each shape may point at (mesh-targets.md §a "Supported kinds", §f "Kinds"). */
const TARGET_KINDS: Record<Shape, readonly string[]> = {
  sidecar: [],
  gateway: [],
  'gateway-api': ['Gateway'],
  waypoint: ['Service', 'ServiceEntry', 'Gateway', 'GatewayClass'],
  route: ['HTTPRoute', 'GRPCRoute'],
};

export interface Mesh {
  version: MeshVersion;
  features: MeshFeatures;
}

export function checkMesh(resolved: ResolvedValues): Mesh {
  const { target, meshVersion, shape } = resolved.values;
  const version = parseMeshVersion(meshVersion);
  if (!version) {
    throw resolved.problem(
      'meshVersion',
      `${JSON.stringify(meshVersion)} is not a mesh version meshwasm knows; use one of ${SUPPORTED_MESH_VERSIONS.join(', ')}`,
    );
  }
  if ((target === 'envoy-gateway') !== (version.family === 'eg')) {
    const fix =
      target === 'envoy-gateway'
        ? 'use --mesh-version eg-1.9'
        : 'use an ossm-* or istio-* version, or --target envoy-gateway';
    throw resolved.problem(
      ['meshVersion', 'target'],
      `${meshVersion} does not run --target ${target}; ${fix}`,
    );
  }
  if (!SHAPES_BY_TARGET[target].includes(shape)) {
    throw resolved.problem(
      ['shape', 'target'],
      `--target ${target} has no ${shape} shape; use one of ${SHAPES_BY_TARGET[target].join(', ')}`,
    );
  }
  return { version, features: meshFeatures(version) };
}

export function checkAttachment(resolved: ResolvedValues, mesh: Mesh): void {
  const { target, shape, selector, targetRefs, gateway } = resolved.values;
  if (selector && targetRefs) {
    throw resolved.problem(
      ['targetRefs', 'selector'],
      'only one of --selector and --target-ref may be set (a resource attaches by one); drop one of them',
    );
  }
  if (targetRefs && (shape === 'sidecar' || shape === 'gateway')) {
    throw resolved.problem(
      'targetRefs',
      `${shape}s ignore a policy with targetRefs, so the filter would never run; select the pods with --selector instead`,
    );
  }
  if (selector && shape === 'waypoint') {
    throw resolved.problem(
      'selector',
      'waypoints never honor a selector; attach with --target-ref (default Service/<workload>)',
    );
  }
  if (selector && target === 'envoy-gateway') {
    throw resolved.problem(
      'selector',
      'Envoy Gateway attaches policies to Gateways and routes only; use --target-ref or --shape',
    );
  }
  if (shape === 'waypoint' && !mesh.features.targetRefs) {
    throw resolved.problem(
      ['shape', 'meshVersion'],
      `waypoints are attached by targetRefs, which ${mesh.version.id} does not have; use --mesh-version ${firstVersionWith('targetRefs')}`,
    );
  }
  if (targetRefs) {
    const allowed = TARGET_KINDS[shape];
    const wrong = targetRefs.find((ref) => !allowed.includes(ref.kind));
    if (wrong)
      throw resolved.problem(
        'targetRefs',
        `--shape ${shape} cannot target a ${wrong.kind}; use ${allowed.map((kind) => `${kind}/<name>`).join(' or ')}`,
      );
    if (target === 'envoy-gateway') {
      const badGroup = targetRefs.find((ref) => ref.group !== 'gateway.networking.k8s.io');
      if (badGroup)
        throw resolved.problem(
          'targetRefs',
          `Envoy Gateway only targets group gateway.networking.k8s.io, not ${JSON.stringify(badGroup.group)}`,
        );
    }
    if (target !== 'envoy-gateway' && !mesh.features.targetRefs) {
      const singular = target === 'ossm' && mesh.features.targetRef;
      if (!singular)
        throw resolved.problem(
          ['targetRefs', 'meshVersion'],
          `${mesh.version.id} has no targetRefs on ${target === 'ossm' ? 'WasmPlugin' : 'EnvoyFilter'}; use --selector, or --mesh-version ${firstVersionWith('targetRefs')}`,
        );
      if (targetRefs.length > 1)
        throw resolved.problem(
          'targetRefs',
          `${mesh.version.id} has only the singular targetRef; give one target, or use --mesh-version ${firstVersionWith('targetRefs')}`,
        );
    }
  }
  if (shape === 'gateway-api' && !gateway && !selector && !targetRefs) {
    throw resolved.problem(
      'gateway',
      'is required for --shape gateway-api: name the Gateway the filter runs on (or give --target-ref Gateway/<name>)',
    );
  }
  if (
    target === 'envoy-gateway' &&
    shape === 'gateway-api' &&
    resolved.values.gatewayNamespace !== resolved.values.namespace
  ) {
    throw resolved.problem(
      ['gatewayNamespace', 'namespace'],
      `an EnvoyExtensionPolicy must live in its Gateway's namespace; set --namespace ${resolved.values.gatewayNamespace} (or drop --gateway-namespace)`,
    );
  }
  const { egMerge, calloutCluster } = resolved.values;
  if (egMerge && target !== 'envoy-gateway') {
    throw resolved.problem(
      ['egMerge', 'target'],
      'is an Envoy Gateway (EnvoyProxy) setting; drop it, or use --target envoy-gateway',
    );
  }
  if (egMerge && calloutCluster) {
    throw resolved.problem(
      ['calloutCluster', 'egMerge'],
      `names the cluster itself, so --eg-merge ${egMerge} changes nothing; drop one of them`,
    );
  }
  if (target === 'envoy-gateway' && !calloutCluster && !gateway) {
    throw resolved.problem(
      'gateway',
      'is required to add the callout cluster: name the Gateway (or name an existing cluster with --callout-cluster)',
    );
  }
}

export function checkModule(resolved: ResolvedValues, module: ModuleSource): void {
  const { target, url, sha256, pullSecret, pullPolicy } = resolved.values;
  if (target === 'envoy-gateway' && module.kind === 'file') {
    throw resolved.problem(
      'file',
      'Envoy Gateway loads modules from an image or a URL only; use --image oci://… or --url https://…',
    );
  }
  if (target === 'envoyfilter' && module.kind === 'http' && !sha256) {
    throw resolved.problem(
      'sha256',
      `is required with --url for --target envoyfilter (Envoy refuses code.remote without it); give the sha256 of the .wasm at ${url}`,
    );
  }
  if (target === 'envoyfilter' && module.kind === 'file' && sha256) {
    throw resolved.problem(
      'sha256',
      'has no place with --file on --target envoyfilter (code.local carries no checksum); drop --sha256',
    );
  }
  if (pullSecret !== undefined) {
    if (module.kind !== 'oci')
      throw resolved.problem('pullSecret', 'only applies to an --image module; drop --pull-secret');
    if (target === 'envoyfilter') {
      throw resolved.problem(
        'pullSecret',
        'the EnvoyFilter ECDS path has no pull-secret plumbing (istio-agent uses its own credentials); use --target ossm, or a public image',
      );
    }
  }
  if (pullPolicy !== undefined) {
    if (target === 'envoyfilter')
      throw resolved.problem(
        'pullPolicy',
        'EnvoyFilter has no pull policy; drop --pull-policy or use --target ossm',
      );
    if (module.kind === 'file')
      throw resolved.problem('pullPolicy', 'a --file module is not pulled; drop --pull-policy');
    if (target === 'envoy-gateway' && module.sha256)
      throw resolved.problem(
        'pullPolicy',
        'Envoy Gateway ignores the pull policy when a sha256 pins the module; drop --pull-policy',
      );
  }
}

export function checkPlugin(resolved: ResolvedValues, mesh: Mesh): void {
  const { target, failOpen, failReload, phase, priority } = resolved.values;
  if (failOpen && failReload) {
    throw resolved.problem(
      ['failReload', 'failOpen'],
      '--fail-open and --fail-reload are two different failure policies; choose one',
    );
  }
  if (failOpen && target === 'ossm' && !mesh.features.failStrategy) {
    throw resolved.problem(
      ['failOpen', 'meshVersion'],
      `WasmPlugin on ${mesh.version.id} has no failStrategy, so it always fails closed; drop --fail-open or use --mesh-version ${firstVersionWith('failStrategy')}`,
    );
  }
  if (failReload && target === 'envoy-gateway') {
    throw resolved.problem('failReload', 'Envoy Gateway has only failOpen; drop --fail-reload');
  }
  if (failReload && !mesh.features.failReload) {
    throw resolved.problem(
      ['failReload', 'meshVersion'],
      `FAIL_RELOAD needs ${firstVersionWith('failReload')}, not ${mesh.version.id}; drop --fail-reload or raise --mesh-version`,
    );
  }
  if (phase !== undefined && target !== 'ossm') {
    throw resolved.problem(
      'phase',
      `only WasmPlugin has phases; ${target === 'envoyfilter' ? 'the EnvoyFilter is inserted just before the router' : 'Envoy Gateway orders wasm filters itself'}; drop --phase`,
    );
  }
  if (priority !== undefined && target === 'envoy-gateway') {
    throw resolved.problem(
      'priority',
      'Envoy Gateway has no wasm priority (filter order is fixed); drop --priority',
    );
  }
}

export function checkFilterModes(resolved: ResolvedValues): void {
  const { mode, fanOut, failureStatus, outcomeHeader } = resolved.values;
  if (mode === 'blocking' && fanOut === 0) {
    throw resolved.problem(
      ['fanOut', 'mode'],
      'blocking mode with --fan-out 0 would wait for callouts that are never made; use --fan-out 1 or more, or --mode async',
    );
  }
  if (mode !== 'blocking' && failureStatus !== 0) {
    throw resolved.problem(
      'failureStatus',
      'only applies to --mode blocking (async callouts never hold the request); add --mode blocking or drop --failure-status',
    );
  }
  if (mode !== 'blocking' && outcomeHeader !== '') {
    throw resolved.problem(
      'outcomeHeader',
      'only applies to --mode blocking; add --mode blocking or drop --outcome-header',
    );
  }
}
