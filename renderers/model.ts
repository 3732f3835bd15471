import {
  checkAttachment,
  checkFilterModes,
  checkMesh,
  checkModule,
  checkPlugin,
  type Mesh,
} from './combinations.js';
import { RenderBug } from './errors.js';
import { checkFilterConfig, filterSchema } from './filter-schema.js';
import { moduleSource, type ModuleSource } from './module-source.js';
import { ROOT_ID, SETTINGS, type Shape, type Target } from './settings.js';
import { isLabelValue, type TargetRef } from './value-types.js';
import type { ResolvedValues, Values } from './values.js';
import { firstVersionWith } from './versions.js';
import { canonicalJson, type Json } from './yaml-encode.js';

/**
 * The target-independent model: values in; out come the filter configuration, the callout cluster
 * for the chosen shape (mesh-targets.md §e–f), how the resources attach, the module source and the
 * resource names. The target renderers only lay this out as their resource kinds.
 */

export interface Attachment {
  selector?: Record<string, string>;
  targetRefs?: TargetRef[];
}

/**
 * How an EnvoyFilter reaches the proxies, where that differs from a WasmPlugin: on a waypoint,
 * Istio 1.27+ match an EnvoyFilter's targetRefs only against the waypoint's Gateway (or its
 * GatewayClass), never a Service; 1.22-1.26 ignore targetRefs and apply the filter to every proxy
 * of the namespace, so there the waypoint's pods are selected by label. `chains` then names the
 * waypoint filter chains of the targeted Services (inbound-vip|port|http|host), so the filter runs
 * for those Services only.
 */
export interface EnvoyFilterAttachment extends Attachment {
  chains?: string[];
}

/** How the callout cluster comes to exist on the proxy that runs the filter. */
export type ClusterProvision =
  /** Istio builds outbound|port||host for every Service in scope (sidecars, gateways). */
  | { kind: 'mesh' }
  /** The user named a cluster that already exists (--callout-cluster). */
  | { kind: 'existing' }
  /** outbound|… exists once an EnvoyFilter names the Service in envoyfilter.istio.io/referenced-services (Istio 1.26+). */
  | { kind: 'referenced-service'; host: string }
  /** Envoy Gateway with mergeBackends: the one cluster every route to the Service shares. */
  | { kind: 'merged-backend'; service: string }
  /** meshwasm adds a STRICT_DNS cluster (EnvoyFilter CLUSTER ADD, or an Envoy Gateway EnvoyPatchPolicy). */
  | { kind: 'strict-dns'; host: string; port: number };

export interface CalloutCluster {
  name: string;
  provision: ClusterProvision;
}

export interface RenderModel {
  values: Values;
  target: Target;
  shape: Shape;
  mesh: Mesh;
  namespace: string;
  /** metadata.name of the main resource. */
  name: string;
  rootId: string;
  labels: Record<string, string>;
  attachment: Attachment;
  envoyFilterAttachment: EnvoyFilterAttachment;
  callout: CalloutCluster;
  module: ModuleSource;
  filterConfig: Record<string, Json>;
  /** filterConfig as canonical JSON: the exact bytes every target prints. */
  filterConfigJson: string;
  /** Warnings and notes for stderr. */
  notes: string[];
}

const GATEWAY_NAME_LABEL = 'gateway.networking.k8s.io/gateway-name';
const OLD_GATEWAY_NAME_LABEL = 'istio.io/gateway-name';

/** The pod label naming a Gateway API gateway (and a waypoint) on this mesh version. */
export function gatewayNameLabel(mesh: Mesh): string {
  return mesh.features.gatewayApiNameLabel ? GATEWAY_NAME_LABEL : OLD_GATEWAY_NAME_LABEL;
}
const GATEWAY_API_GROUP = 'gateway.networking.k8s.io';

function attachment(resolved: ResolvedValues, mesh: Mesh): Attachment {
  const { target, shape, selector, targetRefs, workload, gateway } = resolved.values;
  if (selector) return { selector };
  if (targetRefs) return { targetRefs };
  switch (shape) {
    case 'sidecar':
      return { selector: { app: workload } };
    case 'gateway':
      return { selector: { istio: 'ingressgateway' } };
    case 'waypoint':
      return { targetRefs: [{ group: '', kind: 'Service', name: workload }] };
    case 'route':
      return { targetRefs: [{ group: GATEWAY_API_GROUP, kind: 'HTTPRoute', name: workload }] };
    case 'gateway-api': {
      const name = gateway!;
      // Gateway API gateway pods carry the gateway-name label, so a selector reaches them on every
      // version; WasmPlugin prefers targetRef(s) where the version has them, EnvoyFilter keeps the
      // selector (as Kuadrant does), Envoy Gateway only has targetRefs.
      const bySelector = target === 'envoyfilter' || (target === 'ossm' && !mesh.features.targetRef);
      if (!bySelector) return { targetRefs: [{ group: GATEWAY_API_GROUP, kind: 'Gateway', name }] };
      const label = gatewayNameLabel(mesh);
      if (!isLabelValue(name)) {
        throw resolved.problem(
          'gateway',
          `${JSON.stringify(name)} cannot be matched by the ${label} pod label (at most 63 characters, no dots at the ends); use a shorter Gateway name or --selector`,
        );
      }
      return { selector: { [label]: name } };
    }
  }
}

function envoyFilterAttachment(
  resolved: ResolvedValues,
  mesh: Mesh,
  given: Attachment,
): EnvoyFilterAttachment {
  const { shape, gateway, namespace, workloadPort, clusterDomain } = resolved.values;
  if (shape !== 'waypoint') return given;
  const refs = given.targetRefs ?? [];
  const services = refs.filter((ref) => ref.kind === 'Service');
  if (refs.some((ref) => ref.kind === 'ServiceEntry')) {
    throw resolved.problem(
      'targetRefs',
      "an EnvoyFilter cannot be scoped to a ServiceEntry's chains on a waypoint; use --target ossm, or --target-ref Gateway/<waypoint>",
    );
  }
  const gatewayRefs = refs.filter((ref) => ref.kind === 'Gateway' || ref.kind === 'GatewayClass');
  const waypoints: TargetRef[] =
    gatewayRefs.length > 0 ? gatewayRefs : [{ group: GATEWAY_API_GROUP, kind: 'Gateway', name: gateway! }];
  const chains =
    services.length > 0
      ? services.map((s) => `inbound-vip|${workloadPort}|http|${s.name}.${namespace}.svc.${clusterDomain}`)
      : undefined;
  if (mesh.features.envoyFilterTargetRefs) return { targetRefs: waypoints, chains };
  const byName = waypoints.filter((ref) => ref.kind === 'Gateway');
  if (byName.length !== 1) {
    throw resolved.problem(
      ['targetRefs', 'meshVersion'],
      `${mesh.version.id} ignores EnvoyFilter targetRefs, so meshwasm selects the waypoint's pods by label and needs exactly one Gateway/<waypoint>; or use --mesh-version ${firstVersionWith('envoyFilterTargetRefs')}`,
    );
  }
  return { selector: { [gatewayNameLabel(mesh)]: byName[0].name }, chains };
}

function calloutCluster(resolved: ResolvedValues, mesh: Mesh): CalloutCluster {
  const {
    target,
    shape,
    calloutCluster: existing,
    calloutService,
    calloutNamespace,
    calloutPort,
    clusterDomain,
  } = resolved.values;
  if (existing !== undefined) return { name: existing, provision: { kind: 'existing' } };
  const host = `${calloutService}.${calloutNamespace}.svc.${clusterDomain}`;
  const strictDns = {
    name: `meshwasm-${calloutService}`,
    provision: { kind: 'strict-dns' as const, host, port: calloutPort },
  };
  if (target === 'envoy-gateway') {
    // With mergeBackends, Envoy Gateway names a route's Service backend cluster after the Service
    // (irBackendClusterName: kind/namespace/name/port/protocol, lowercased; an HTTPRoute's protocol
    // is http), so the name is known without asking for it. Otherwise it creates no per-Service
    // clusters (route clusters are named after the route and rule) and an EnvoyPatchPolicy adds one.
    if (resolved.values.egMerge === 'backends') {
      return {
        name: `service/${calloutNamespace}/${calloutService}/${calloutPort}/http`,
        provision: {
          kind: 'merged-backend',
          service: `${calloutNamespace}/${calloutService}:${calloutPort}`,
        },
      };
    }
    return strictDns;
  }
  const outbound = `outbound|${calloutPort}||${host}`;
  if (shape === 'waypoint') {
    // A waypoint has outbound|… only for Services its routes reference, or those named by the
    // referenced-services annotation (1.26+). Before that, add a plain DNS cluster.
    return mesh.features.referencedServices
      ? { name: outbound, provision: { kind: 'referenced-service', host } }
      : strictDns;
  }
  if (target === 'envoyfilter' && shape !== 'sidecar' && mesh.features.referencedServices) {
    // Gateways get every Service's cluster unless PILOT_FILTER_GATEWAY_CLUSTER_CONFIG is on; the
    // annotation costs nothing on the EnvoyFilter we emit anyway and keeps the cluster in that case.
    return { name: outbound, provision: { kind: 'referenced-service', host } };
  }
  return { name: outbound, provision: { kind: 'mesh' } };
}

const ISTIO_CLUSTER = /^(outbound|inbound|inbound-vip)\|/;

function filterConfig(resolved: ResolvedValues, cluster: CalloutCluster): Record<string, Json> {
  const v = resolved.values;
  // Without an explicit authority the filter derives it from an Istio-style cluster name; for any
  // other cluster name that would be the cluster name itself, so give it the Service host.
  const authority =
    v.calloutAuthority ??
    (ISTIO_CLUSTER.test(cluster.name)
      ? undefined
      : `${v.calloutService}.${v.calloutNamespace}.svc.${v.clusterDomain}`);
  const config: Record<string, Json | undefined> = {
    cluster: cluster.name,
    authority,
    method: v.calloutMethod,
    path: v.calloutPath,
    timeoutMs: v.calloutTimeoutMs,
    headers: Object.keys(v.calloutHeaders).length > 0 ? v.calloutHeaders : undefined,
    body: v.calloutBody === '' ? undefined : v.calloutBody,
    trigger: v.trigger,
    mode: v.mode,
    failureStatus: v.failureStatus,
    fanOut: v.fanOut,
    outcomeHeader: v.outcomeHeader === '' ? undefined : v.outcomeHeader,
    propagateHeaders: v.propagateHeaders,
    maxInFlight: v.maxInFlight,
    sampleRate: v.sampleRate,
  };
  const sorted = Object.fromEntries(
    Object.entries(config)
      .filter((entry): entry is [string, Json] => entry[1] !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : 1)),
  );
  const problem = checkFilterConfig(sorted)[0];
  if (problem) {
    // The schema is the contract: name the setting, quote the schema's complaint and its own
    // description of the property (written by the filter's authors), which says what is allowed.
    const setting =
      problem.property === 'cluster'
        ? resolved.given('calloutCluster')
          ? 'calloutCluster'
          : 'calloutService'
        : SETTINGS.find((s) => s.filterKey === problem.property)?.key;
    /* c8 ignore next -- every property meshwasm writes has a setting */
    if (!setting)
      throw new RenderBug(`filter configuration property ${problem.property}: ${problem.message}`);
    const description = filterSchema().properties[problem.property]?.description ?? '';
    const shown = JSON.stringify(sorted[problem.property]) ?? '';
    throw resolved.problem(
      setting,
      `${shown.length > 80 ? `${shown.slice(0, 77)}...` : shown} is rejected by filter/config.schema.json (${problem.message}). ${description}`,
    );
  }
  return sorted;
}

function notes(model: Omit<RenderModel, 'notes'>, resolved: ResolvedValues): string[] {
  const out: string[] = [];
  const { module, callout, target } = model;
  if (module.kind === 'oci' && !module.pinned) {
    out.push(
      `warning: ${module.isDefault ? 'the default image ' : ''}${module.url} is not pinned to a digest, so the cluster runs whatever the tag points at when it pulls; pass --sha256 <manifest digest> or --image oci://…@sha256:<digest>`,
    );
  }
  if (module.kind === 'http' && !module.sha256)
    out.push(`warning: ${module.url} is not verified; pass --sha256 <sha256 of the .wasm>`);
  if (module.kind === 'http' && !module.tls) out.push(`warning: ${module.url} is fetched over plain HTTP`);
  if (callout.provision.kind === 'strict-dns' && target === 'envoy-gateway') {
    const { values } = model;
    const aimedAt =
      values.egMerge === 'gateways'
        ? `GatewayClass ${values.gatewayClass} (mergeGateways: Envoy Gateway only applies patch policies aimed at the class)`
        : `Gateway ${values.gatewayNamespace}/${values.gateway}`;
    out.push(
      `note: the EnvoyPatchPolicy that adds cluster ${callout.name} targets ${aimedAt} and only takes effect when Envoy Gateway has extensionApis.enableEnvoyPatchPolicy: true (Helm: config.envoyGateway.extensionApis.enableEnvoyPatchPolicy=true); otherwise use --callout-cluster with an existing route cluster`,
    );
  }
  if (callout.provision.kind === 'merged-backend') {
    out.push(
      `note: with mergeBackends the filter calls cluster ${callout.name}, which Envoy Gateway creates only while an HTTPRoute on the same Gateway has Service ${callout.provision.service} as a backendRef; no EnvoyPatchPolicy is emitted`,
    );
  }
  if (callout.provision.kind === 'strict-dns' && target !== 'envoy-gateway') {
    out.push(
      `note: ${model.mesh.version.id} cannot reference ${resolved.values.calloutService} on a waypoint, so meshwasm adds cluster ${callout.name} (plain DNS, no Istio mTLS: a STRICT PeerAuthentication on it will refuse the callout; Istio 1.26+ / OSSM 3.1+ use the mesh cluster instead)`,
    );
  }
  return out;
}

/**
 * Where the WasmPlugin/EnvoyFilter live. Istio selects them for a proxy only from the proxy's own
 * namespace and the root namespace, so for gateways they go to the gateway's namespace, while the
 * callout keeps pointing at back-python in its own namespace (calloutNamespace derives from
 * --namespace, not from this).
 */
function resourceNamespace(values: Values): string {
  const gateway = values.shape === 'gateway' || values.shape === 'gateway-api';
  return gateway && values.target !== 'envoy-gateway' ? values.gatewayNamespace : values.namespace;
}

/** Checks every rule and builds the model. Throws UsageError naming the flag to fix. */
export function buildModel(resolved: ResolvedValues): RenderModel {
  const mesh = checkMesh(resolved);
  checkAttachment(resolved, mesh);
  const module = moduleSource(resolved);
  checkModule(resolved, module);
  checkPlugin(resolved, mesh);
  checkFilterModes(resolved);
  const values = resolved.values;
  const callout = calloutCluster(resolved, mesh);
  const config = filterConfig(resolved, callout);
  const attached = attachment(resolved, mesh);
  const base = {
    values,
    target: values.target,
    shape: values.shape,
    mesh,
    namespace: resourceNamespace(values),
    name: values.pluginName,
    rootId: ROOT_ID,
    labels: { 'app.kubernetes.io/managed-by': 'meshwasm' },
    attachment: attached,
    envoyFilterAttachment: envoyFilterAttachment(resolved, mesh, attached),
    callout,
    module,
    filterConfig: config,
    filterConfigJson: canonicalJson(config),
  };
  return { ...base, notes: notes(base, resolved) };
}
