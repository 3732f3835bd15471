/**
 * The labels and annotations that mark what meshwasm applied. `status` and `delete` find objects by
 * the labels; `status` reads the callout Service to check from the annotation, because the callout
 * cluster name inside the filter configuration differs per target.
 */
export const MANAGED_BY = 'app.kubernetes.io/managed-by';
export const INSTANCE = 'meshwasm.io/instance';
/** `<namespace>/<service>:<port>` of the Service the filter calls (absent with --callout-cluster). */
export const CALLOUT_SERVICE = 'meshwasm.io/callout-service';
export const FIELD_MANAGER = 'meshwasm';

/** The kinds meshwasm renders, the only ones `status` and `delete` look at. */
export const OWNED_KINDS: readonly { apiVersion: string; kind: string }[] = [
  { apiVersion: 'extensions.istio.io/v1alpha1', kind: 'WasmPlugin' },
  { apiVersion: 'networking.istio.io/v1alpha3', kind: 'EnvoyFilter' },
  { apiVersion: 'gateway.envoyproxy.io/v1alpha1', kind: 'EnvoyExtensionPolicy' },
  { apiVersion: 'gateway.envoyproxy.io/v1alpha1', kind: 'EnvoyPatchPolicy' },
];

/** The label selector for one instance, or for everything meshwasm manages. */
export function ownedSelector(instance?: string): string {
  return `${MANAGED_BY}=meshwasm${instance === undefined ? '' : `,${INSTANCE}=${instance}`}`;
}
