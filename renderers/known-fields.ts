/**
 * The fields each kind meshwasm owns may have, for `validate`'s strict check (what
 * `kubectl --validate=strict` and the API server's fieldValidation=Strict do). The @kubernetes-models
 * validators accept unknown fields, and the API server prunes them silently: a WasmPlugin with
 * `spec.selectr` loses its selector and then applies to every workload of the namespace.
 *
 * A tree per kind: LEAF is a scalar (or a list of scalars), MAP an object with any keys (labels),
 * OPEN a subtree not checked here (preserve-unknown-fields, or a part meshwasm does not write, such
 * as an EnvoyExtensionPolicy's extProc), and a nested object an object (or a list of objects) with
 * exactly those fields. test/validate-strict.test.ts checks every tree against the upstream CRD:
 * each field exists there, and under each nested object no CRD field is missing here.
 */

export const LEAF = 'leaf' as const;
export const MAP = 'map' as const;
export const OPEN = 'open' as const;
export type FieldTree = typeof LEAF | typeof MAP | typeof OPEN | { readonly [field: string]: FieldTree };

const L: typeof LEAF = LEAF;

const METADATA: FieldTree = {
  name: L,
  generateName: L,
  namespace: L,
  labels: MAP,
  annotations: MAP,
  uid: L,
  resourceVersion: L,
  generation: L,
  creationTimestamp: L,
  deletionTimestamp: L,
  deletionGracePeriodSeconds: L,
  finalizers: L,
  ownerReferences: OPEN,
  managedFields: OPEN,
  selfLink: L,
};

const POLICY_REF: FieldTree = { group: L, kind: L, name: L, namespace: L };
const SECRET_REF: FieldTree = { group: L, kind: L, name: L, namespace: L };
const LABEL_SELECTOR: FieldTree = { matchLabels: MAP, matchExpressions: { key: L, operator: L, values: L } };
const FILTER_MATCH: FieldTree = { name: L, subFilter: { name: L } };

const SPECS: Record<string, FieldTree> = {
  WasmPlugin: {
    selector: { matchLabels: MAP },
    targetRef: POLICY_REF,
    targetRefs: POLICY_REF,
    url: L,
    sha256: L,
    imagePullPolicy: L,
    imagePullSecret: L,
    verificationKey: L,
    pluginConfig: OPEN,
    pluginName: L,
    phase: L,
    priority: L,
    failStrategy: L,
    vmConfig: { env: { name: L, value: L, valueFrom: L } },
    match: { mode: L, ports: { number: L } },
    type: L,
  },
  EnvoyFilter: {
    workloadSelector: { labels: MAP },
    targetRefs: POLICY_REF,
    priority: L,
    configPatches: {
      applyTo: L,
      match: {
        context: L,
        proxy: { proxyVersion: L, metadata: MAP },
        listener: {
          name: L,
          portNumber: L,
          portName: L,
          listenerFilter: L,
          filterChain: {
            name: L,
            sni: L,
            transportProtocol: L,
            applicationProtocols: L,
            destinationPort: L,
            filter: FILTER_MATCH,
          },
        },
        routeConfiguration: {
          name: L,
          gateway: L,
          portNumber: L,
          portName: L,
          vhost: { name: L, domainName: L, route: { name: L, action: L } },
        },
        cluster: { name: L, portNumber: L, service: L, subset: L },
        waypoint: { filter: FILTER_MATCH, portNumber: L, route: { name: L } },
      },
      // The Envoy proto fields inside are checked by validate.ts where meshwasm knows them.
      patch: { operation: L, filterClass: L, value: OPEN },
    },
  },
  EnvoyExtensionPolicy: {
    targetRef: { group: L, kind: L, name: L, sectionName: L },
    targetRefs: { group: L, kind: L, name: L, sectionName: L },
    targetSelectors: {
      group: L,
      kind: L,
      matchLabels: MAP,
      matchExpressions: { key: L, operator: L, values: L },
      namespaces: { from: L, selector: LABEL_SELECTOR },
    },
    mergeType: L,
    wasm: {
      name: L,
      rootID: L,
      code: {
        type: L,
        pullPolicy: L,
        http: { url: L, sha256: L, tls: { caCertificateRef: SECRET_REF } },
        image: { url: L, sha256: L, pullSecretRef: SECRET_REF, tls: { caCertificateRef: SECRET_REF } },
      },
      config: OPEN,
      failOpen: L,
      env: { hostKeys: L },
    },
    // Extensions meshwasm does not write: their schema is the CRD's, checked by @kubernetes-models.
    extProc: OPEN,
    lua: OPEN,
    dynamicModule: OPEN,
  },
  EnvoyPatchPolicy: {
    type: L,
    priority: L,
    targetRef: { group: L, kind: L, name: L },
    jsonPatches: {
      type: L,
      name: L,
      operation: { op: L, path: L, jsonPath: L, from: L, value: OPEN },
    },
  },
};

/** The field tree of a whole resource of `kind`, or undefined for a kind meshwasm does not own. */
export function knownFields(kind: string): FieldTree | undefined {
  const spec = SPECS[kind];
  if (!spec) return undefined;
  return { apiVersion: L, kind: L, metadata: METADATA, spec, status: OPEN };
}

/** The spec trees by kind, for the test that holds them against the upstream CRDs. */
export const SPEC_FIELDS: Readonly<Record<string, FieldTree>> = SPECS;

/**
 * Fields of `value` that `tree` does not have: each path (spec.selectr, spec.configPatches[0].pach)
 * with the field names that are allowed there (for a did-you-mean). Lists are walked item by item;
 * a scalar where the tree has an object is left to the schema check.
 */
export function unknownFields(
  value: unknown,
  tree: FieldTree,
  path = '',
): { path: string; candidates: string[] }[] {
  if (Array.isArray(value)) return value.flatMap((item, i) => unknownFields(item, tree, `${path}[${i}]`));
  if (typeof tree !== 'object' || typeof value !== 'object' || value === null) return [];
  const out: { path: string; candidates: string[] }[] = [];
  for (const [key, child] of Object.entries(value)) {
    const where = path ? `${path}.${key}` : key;
    if (!Object.hasOwn(tree, key)) out.push({ path: where, candidates: Object.keys(tree) });
    else out.push(...unknownFields(child, tree[key], where));
  }
  return out;
}
