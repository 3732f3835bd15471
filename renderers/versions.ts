/**
 * Mesh versions meshwasm renders for, and the fields each one accepts
 * (../shared/reference/mesh-targets.md §0: OSSM → Istio base, WasmPlugin/EnvoyFilter changes by
 * Istio minor). Every feature gate used by a renderer or by validate is a field of MeshFeatures, so
 * the version rules live here only.
 */

export type MeshFamily = 'ossm' | 'istio' | 'eg';

export interface MeshVersion {
  id: string;
  family: MeshFamily;
  /** Istio minor (1.<minor>) for ossm-* and istio-*; undefined for Envoy Gateway. */
  istioMinor?: number;
}

export interface MeshFeatures {
  /** WasmPlugin.failStrategy (FAIL_CLOSE / FAIL_OPEN): Istio 1.19+, so OSSM 2.6+. */
  failStrategy: boolean;
  /** WasmPlugin.targetRef (singular): Istio 1.20+ (OSSM 2.6). */
  targetRef: boolean;
  /** WasmPlugin/EnvoyFilter targetRefs: Istio 1.22+ (OSSM 3.0+). Waypoints need it. */
  targetRefs: boolean;
  /** FAIL_RELOAD (WasmPlugin) and Envoy's failure_policy field (EnvoyFilter): Istio 1.27+ (OSSM 3.2+). */
  failReload: boolean;
  /** EnvoyFilter annotation envoyfilter.istio.io/referenced-services: Istio 1.26+ (OSSM 3.1+). */
  referencedServices: boolean;
  /**
   * Gateway API gateway pods carry gateway.networking.k8s.io/gateway-name from Istio 1.21; before
   * (OSSM 2.5/2.6) only istio.io/gateway-name.
   */
  gatewayApiNameLabel: boolean;
  /**
   * istiod honors EnvoyFilter targetRefs from Istio 1.27 (OSSM 3.2), matching kind Gateway or
   * GatewayClass on waypoints; 1.22-1.26 accept the field and ignore it, so a targetRefs-only
   * EnvoyFilter applies to every proxy of its namespace.
   */
  envoyFilterTargetRefs: boolean;
}

const OSSM_ISTIO_MINOR: Record<string, number> = {
  '2.5': 18,
  '2.6': 20,
  '3.0': 24,
  '3.1': 26,
  '3.2': 27,
  '3.3': 28,
  '3.4': 30,
};
const ISTIO_MINORS = { min: 20, max: 30 };
const EG_VERSIONS = new Set(['1.9']);

export const SUPPORTED_MESH_VERSIONS: readonly string[] = [
  ...Object.keys(OSSM_ISTIO_MINOR).map((v) => `ossm-${v}`),
  ...Array.from(
    { length: ISTIO_MINORS.max - ISTIO_MINORS.min + 1 },
    (_, i) => `istio-1.${ISTIO_MINORS.min + i}`,
  ),
  ...[...EG_VERSIONS].map((v) => `eg-${v}`),
];

/** Parses ossm-X.Y, istio-1.N or eg-1.N; undefined when meshwasm does not know the version. */
export function parseMeshVersion(id: string): MeshVersion | undefined {
  const match = /^(ossm|istio|eg)-(\d+\.\d+)$/.exec(id);
  if (!match) return undefined;
  const [, family, version] = match;
  if (family === 'ossm') {
    const minor = OSSM_ISTIO_MINOR[version];
    return minor === undefined ? undefined : { id, family, istioMinor: minor };
  }
  if (family === 'istio') {
    const [major, minor] = version.split('.').map(Number);
    if (major !== 1 || minor < ISTIO_MINORS.min || minor > ISTIO_MINORS.max) return undefined;
    return { id, family, istioMinor: minor };
  }
  return EG_VERSIONS.has(version) ? { id, family: 'eg' } : undefined;
}

export function meshFeatures(version: MeshVersion): MeshFeatures {
  const minor = version.istioMinor ?? 0;
  return {
    failStrategy: minor >= 19,
    targetRef: minor >= 20,
    targetRefs: minor >= 22,
    failReload: minor >= 27,
    referencedServices: minor >= 26,
    gatewayApiNameLabel: minor >= 21,
    envoyFilterTargetRefs: minor >= 27,
  };
}

/** The oldest version (for error messages) that has a feature, e.g. "OSSM 3.0+ / Istio 1.22+". */
export function firstVersionWith(feature: keyof MeshFeatures): string {
  const minor = {
    failStrategy: 19,
    targetRef: 20,
    targetRefs: 22,
    failReload: 27,
    referencedServices: 26,
    gatewayApiNameLabel: 21,
    envoyFilterTargetRefs: 27,
  }[feature];
  const ossm = Object.entries(OSSM_ISTIO_MINOR).find(([, m]) => m >= minor)?.[0];
  return `${ossm ? `ossm-${ossm}+ / ` : ''}istio-1.${Math.max(minor, ISTIO_MINORS.min)}+`;
}
