import { parse } from 'yaml';

import { parseMeshVersion } from '../renderers/versions.js';
import type { Api, KubeObject } from './api.js';
import { ClusterError } from './errors.js';
import { allInOrder } from './in-order.js';

/**
 * Which Envoy-based meshes a cluster runs, read from the objects their installs create: istiod's
 * Deployment (its image tag is the Istio version), OSSM 2's ServiceMeshControlPlane, OSSM 3's Sail
 * `Istio` resource, ztunnel's DaemonSet (ambient), Envoy Gateway's Deployment and the ConfigMap that
 * holds its configuration (EnvoyPatchPolicy is off unless extensionApis.enableEnvoyPatchPolicy).
 * From that, the render settings to use: target, shape and --mesh-version.
 */

export interface Detection {
  istio?: { namespace: string; name: string; image: string; version?: string };
  ossm2?: { namespace: string; name: string; version?: string };
  ossm3?: { name: string; version?: string };
  ambient?: { namespace: string; name: string };
  envoyGateway?: {
    namespace: string;
    name: string;
    image: string;
    version?: string;
    envoyPatchPolicy: boolean;
  };
  recommendation?: Recommendation;
  notes: string[];
}

export interface Recommendation {
  target: 'ossm' | 'envoy-gateway';
  shape: 'sidecar' | 'waypoint' | 'route';
  meshVersion: string;
}

const tagOf = (image: string) => /:([^:@/]+)(@sha256:[0-9a-f]+)?$/.exec(image)?.[1];
/** "1.27.1", "v1.27.1-distroless" → [1, 27]. */
function majorMinor(version: string | undefined): [number, number] | undefined {
  const match = /^v?(\d+)\.(\d+)/.exec(version ?? '');
  return match ? [Number(match[1]), Number(match[2])] : undefined;
}

const OSSM3_BY_ISTIO_MINOR = new Map<number, string>();
for (const minor of ['3.0', '3.1', '3.2', '3.3', '3.4']) {
  const parsed = parseMeshVersion(`ossm-${minor}`);
  if (parsed?.istioMinor !== undefined) OSSM3_BY_ISTIO_MINOR.set(parsed.istioMinor, `ossm-${minor}`);
}

async function listIfServed(api: Api, apiVersion: string, kind: string): Promise<KubeObject[]> {
  const type = await api.resourceType(apiVersion, kind);
  return type ? api.list(type) : [];
}

const labelled = (object: KubeObject, key: string, value: string) => object.metadata?.labels?.[key] === value;
const where = (object: KubeObject) => ({ namespace: object.metadata.namespace, name: object.metadata.name });
const images = (object: KubeObject): string[] =>
  ((object.spec?.template?.spec?.containers ?? []) as KubeObject[]).map((container) =>
    String(container.image),
  );

export async function detect(api: Api): Promise<Detection> {
  const [deploymentType, daemonSetType] = await allInOrder([
    api.requireType('apps/v1', 'Deployment'),
    api.requireType('apps/v1', 'DaemonSet'),
  ]);
  const [deployments, daemonSets, smcps, sailIstios] = await allInOrder([
    api.list(deploymentType),
    api.list(daemonSetType),
    listIfServed(api, 'maistra.io/v2', 'ServiceMeshControlPlane'),
    listIfServed(api, 'sailoperator.io/v1', 'Istio'),
  ]);
  const found: Detection = { notes: [] };

  const istiod = deployments.find((d) => labelled(d, 'app', 'istiod'));
  if (istiod) {
    const image = images(istiod).find((i) => /pilot/.test(i)) ?? images(istiod)[0] ?? '';
    found.istio = { ...where(istiod), image, version: tagOf(image) };
  }
  const smcp = smcps[0];
  if (smcp) found.ossm2 = { ...where(smcp), version: smcp.spec?.version ?? smcp.status?.chartVersion };
  const sail = sailIstios[0];
  if (sail) found.ossm3 = { name: sail.metadata.name, version: sail.status?.version ?? sail.spec?.version };
  const ztunnel = daemonSets.find(
    (d) =>
      d.metadata.name === 'ztunnel' ||
      labelled(d, 'app.kubernetes.io/name', 'ztunnel') ||
      labelled(d, 'app', 'ztunnel'),
  );
  if (ztunnel) found.ambient = where(ztunnel);
  const eg = deployments.find((d) => labelled(d, 'control-plane', 'envoy-gateway'));
  if (eg) {
    const image = images(eg).find((i) => /envoyproxy\/gateway/.test(i)) ?? images(eg)[0] ?? '';
    found.envoyGateway = {
      ...where(eg),
      image,
      version: tagOf(image),
      envoyPatchPolicy: await envoyPatchPolicyEnabled(api, eg.metadata.namespace),
    };
  }
  found.recommendation = recommend(found);
  return found;
}

async function envoyPatchPolicyEnabled(api: Api, namespace: string): Promise<boolean> {
  const type = await api.requireType('v1', 'ConfigMap');
  const configMap = await api.get(type, namespace, 'envoy-gateway-config');
  const text = configMap?.data?.['envoy-gateway.yaml'];
  if (typeof text !== 'string') return false;
  try {
    return parse(text)?.extensionApis?.enableEnvoyPatchPolicy === true;
  } catch {
    return false;
  }
}

export function recommend(found: Detection): Recommendation | undefined {
  const shape = found.ambient ? 'waypoint' : 'sidecar';
  if (found.ossm2) {
    const [, minor] = majorMinor(found.ossm2.version) ?? [];
    const id = `ossm-2.${minor}`;
    if (minor !== undefined && parseMeshVersion(id)) return { target: 'ossm', shape, meshVersion: id };
    found.notes.push(
      `ServiceMeshControlPlane ${found.ossm2.name} is version ${found.ossm2.version ?? '(unset)'}, which meshwasm does not render for; ossm-2.5 is the oldest it knows`,
    );
    return { target: 'ossm', shape, meshVersion: 'ossm-2.5' };
  }
  const istioVersion = found.ossm3?.version ?? found.istio?.version;
  if (found.ossm3 || found.istio) {
    const [major, minor] = majorMinor(istioVersion) ?? [];
    const ossm3 = found.ossm3 && minor !== undefined ? OSSM3_BY_ISTIO_MINOR.get(minor) : undefined;
    const id = ossm3 ?? `istio-${major}.${minor}`;
    if (major !== undefined && parseMeshVersion(id)) {
      if (found.envoyGateway)
        found.notes.push('Envoy Gateway runs too; render with --target envoy-gateway for its Gateways');
      return { target: 'ossm', shape, meshVersion: id };
    }
    found.notes.push(
      `Istio ${istioVersion ?? '(version unknown)'} is not a version meshwasm renders for; pass --mesh-version`,
    );
  }
  if (found.envoyGateway) {
    const [major, minor] = majorMinor(found.envoyGateway.version) ?? [];
    const id = `eg-${major}.${minor}`;
    if (!found.envoyGateway.envoyPatchPolicy)
      found.notes.push(
        `EnvoyPatchPolicy is disabled in ${found.envoyGateway.namespace}/envoy-gateway-config: set extensionApis.enableEnvoyPatchPolicy: true (meshwasm adds the callout cluster with one), or render with --callout-cluster naming a cluster that exists`,
      );
    if (major !== undefined && parseMeshVersion(id))
      return { target: 'envoy-gateway', shape: 'route', meshVersion: id };
    found.notes.push(
      `Envoy Gateway ${found.envoyGateway.version ?? '(version unknown)'} is not a version meshwasm knows; eg-1.9 is assumed`,
    );
    return { target: 'envoy-gateway', shape: 'route', meshVersion: 'eg-1.9' };
  }
  return undefined;
}

/** detect for `render --target auto`: the recommendation, or an error when no mesh is found. */
export async function recommendation(api: Api): Promise<{ recommendation: Recommendation; notes: string[] }> {
  const found = await detect(api);
  if (!found.recommendation)
    throw new ClusterError(
      `--target auto: no mesh found on ${api.connection.server} (no istiod Deployment, ServiceMeshControlPlane, Sail Istio or Envoy Gateway Deployment); pass --target`,
    );
  return { recommendation: found.recommendation, notes: found.notes };
}

/** The human-readable report of `meshwasm detect`. */
export function formatDetection(found: Detection): string {
  const lines: string[] = [];
  if (found.istio)
    lines.push(`istio: istiod ${found.istio.namespace}/${found.istio.name}, image ${found.istio.image}`);
  if (found.ossm2)
    lines.push(
      `ossm 2: ServiceMeshControlPlane ${found.ossm2.namespace}/${found.ossm2.name}, version ${found.ossm2.version ?? '(unset)'}`,
    );
  if (found.ossm3)
    lines.push(`ossm 3: Sail Istio ${found.ossm3.name}, version ${found.ossm3.version ?? '(unset)'}`);
  if (found.ambient)
    lines.push(`ambient: ztunnel DaemonSet ${found.ambient.namespace}/${found.ambient.name}`);
  if (found.envoyGateway)
    lines.push(
      `envoy gateway: ${found.envoyGateway.namespace}/${found.envoyGateway.name}, image ${found.envoyGateway.image}, EnvoyPatchPolicy ${found.envoyGateway.envoyPatchPolicy ? 'enabled' : 'disabled'}`,
    );
  if (lines.length === 0)
    lines.push('no mesh found (no istiod, ServiceMeshControlPlane, Sail Istio, ztunnel or Envoy Gateway)');
  const r = found.recommendation;
  if (r) lines.push(`recommended: --target ${r.target} --shape ${r.shape} --mesh-version ${r.meshVersion}`);
  for (const note of found.notes) lines.push(`note: ${note}`);
  return `${lines.join('\n')}\n`;
}
