import { checkFilterConfig } from './filter-schema.js';
import { MODEL_CLASSES, type ModelClass } from './model-classes.js';
import { ROOT_ID } from './settings.js';
import { closest } from './did-you-mean.js';
import { knownFields, unknownFields } from './known-fields.js';
import { isDnsLabel, isDnsSubdomain, isLabelKey, isLabelValue, show } from './value-types.js';
import { meshFeatures, type MeshVersion } from './versions.js';
import { readYaml } from './yaml-read.js';

/**
 * Offline checks for meshwasm resources, shared by `render` (run on its own output before
 * anything is printed) and `validate` (run on a user's file):
 * - the text parses as YAML, the same way under YAML 1.2 and 1.1 (kubectl's go-yaml);
 * - each resource validates with its @kubernetes-models class (the CRD's OpenAPI schema);
 * - the CRD CEL rules that matter (attachment exclusivity, URL schemes, sha256 pattern, label
 *   keys, targetRef groups/kinds, code type ⇔ source) and DNS-1123 names, which OpenAPI alone
 *   does not check;
 * - meshwasm's own rules: the root id is "meshwasm", the filter configuration passes
 *   filter/config.schema.json, and with a mesh version, only fields that version has.
 * Only the model classes for the kinds present are imported (model-classes.ts).
 */

type Obj = Record<string, unknown>;

const WASM_TYPE = 'type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm';
const GATEWAY_API_GROUP = 'gateway.networking.k8s.io';
const EG_TARGET_KINDS = [
  'Gateway',
  'ListenerSet',
  'HTTPRoute',
  'GRPCRoute',
  'UDPRoute',
  'TCPRoute',
  'TLSRoute',
];
const SHA256 = /^[a-f0-9]{64}$/;
const REFERENCED_SERVICES = 'envoyfilter.istio.io/referenced-services';

export const KNOWN_KINDS = Object.keys(MODEL_CLASSES);

function isObj(value: unknown): value is Obj {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function obj(value: unknown): Obj {
  return isObj(value) ? value : {};
}

function arr(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

/** First path where a and b differ, or undefined when they are equal as data. */
export function firstDifference(a: unknown, b: unknown, path = ''): string | undefined {
  if (Array.isArray(a) && Array.isArray(b)) {
    if (a.length !== b.length) return `${path || '/'} (length ${a.length} vs ${b.length})`;
    for (let i = 0; i < a.length; i++) {
      const diff = firstDifference(a[i], b[i], `${path}/${i}`);
      if (diff) return diff;
    }
    return undefined;
  }
  if (isObj(a) && isObj(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])];
    for (const key of keys) {
      const diff = firstDifference(a[key], b[key], `${path}/${key}`);
      if (diff) return diff;
    }
    return undefined;
  }
  return Object.is(a, b) ? undefined : path || '/';
}

export interface ParsedText {
  objects: unknown[];
  /** The line each object's document starts on. */
  lines: number[];
  problems: string[];
}

/** Parses multi-document YAML (or JSON), and checks YAML 1.1 reads it as the same data. */
export function parseManifestText(text: string, name: string): ParsedText {
  const read = readYaml(text);
  if (read.findings.length > 0)
    return {
      objects: [],
      lines: [],
      problems: read.findings.map((f) => `${name}:${f.line}:${f.column}: ${f.message}`),
    };
  const present = read.documents.filter(({ value }) => value !== null && value !== undefined);
  const objects = present.map(({ value }) => value);
  const problems: string[] = [];
  const legacy = readYaml(text, { version: '1.1' })
    .documents.map(({ value }) => value)
    .filter((value) => value !== null && value !== undefined);
  const diff = firstDifference(objects, legacy);
  if (diff)
    problems.push(
      `${name}: reads differently as YAML 1.1 (kubectl, oc) than as YAML 1.2 at ${diff}; quote that value`,
    );
  return { objects, lines: present.map(({ line }) => line), problems };
}

function label(o: Obj): string {
  const metadata = obj(o.metadata);
  const ns = typeof metadata.namespace === 'string' ? `${metadata.namespace}/` : '';
  return `${typeof o.kind === 'string' ? o.kind : 'resource'} ${ns}${typeof metadata.name === 'string' ? metadata.name : '(unnamed)'}`;
}

function checkMetadata(o: Obj, out: string[]): void {
  const metadata = obj(o.metadata);
  if (typeof metadata.name !== 'string' || !isDnsSubdomain(metadata.name))
    out.push(`metadata.name ${JSON.stringify(metadata.name)} is not a DNS-1123 name`);
  if (
    metadata.namespace !== undefined &&
    (typeof metadata.namespace !== 'string' || !isDnsLabel(metadata.namespace))
  ) {
    out.push(`metadata.namespace ${JSON.stringify(metadata.namespace)} is not a DNS-1123 label`);
  }
  for (const [key, value] of Object.entries(obj(metadata.labels))) {
    if (!isLabelKey(key) || typeof value !== 'string' || !isLabelValue(value))
      out.push(`metadata.labels ${show(key)}: ${show(value)} is not a valid label`);
  }
}

function checkSelectorLabels(labels: unknown, where: string, out: string[]): void {
  for (const [key, value] of Object.entries(obj(labels))) {
    // CEL on WasmPlugin.selector.matchLabels: no wildcards, no empty keys.
    if (key.includes('*') || (typeof value === 'string' && value.includes('*')))
      out.push(`${where}: wildcards are not allowed (${JSON.stringify(key)})`);
    else if (!isLabelKey(key) || typeof value !== 'string' || !isLabelValue(value))
      out.push(`${where}: ${show(key)}: ${show(value)} is not a valid label`);
  }
}

function checkPolicyRefs(refs: unknown[], where: string, out: string[]): void {
  if (refs.length > 16) out.push(`${where}: at most 16 targets`);
  refs.forEach((ref, i) => {
    const r = obj(ref);
    if (typeof r.name !== 'string' || !isDnsSubdomain(r.name))
      out.push(`${where}[${i}].name ${JSON.stringify(r.name)} is not a DNS-1123 name`);
    if (r.namespace !== undefined && r.namespace !== '')
      out.push(`${where}[${i}].namespace: cross-namespace references are not supported; drop it`);
  });
}

function checkConfig(config: unknown, where: string, out: string[]): void {
  // The schema leaves `cluster` optional because render fills it in; a manifest without one
  // would load a filter that has nowhere to send its callouts.
  if (isObj(config) && config.cluster === undefined)
    out.push(`${where}: cluster is missing; set it to the Envoy cluster the callout goes to`);
  for (const problem of checkFilterConfig(config))
    out.push(`${where}: ${problem.message}${problem.property ? ` (${problem.property})` : ''}`);
}

function checkWasmPlugin(o: Obj, mesh: MeshVersion | undefined, out: string[]): void {
  const spec = obj(o.spec);
  const attached = ['selector', 'targetRef', 'targetRefs'].filter((key) => spec[key] !== undefined);
  if (attached.length > 1)
    out.push(`spec: only one of selector, targetRef, targetRefs may be set (has ${attached.join(', ')})`);
  checkSelectorLabels(obj(spec.selector).matchLabels, 'spec.selector.matchLabels', out);
  if (spec.targetRef !== undefined) checkPolicyRefs([spec.targetRef], 'spec.targetRef', out);
  checkPolicyRefs(arr(spec.targetRefs), 'spec.targetRefs', out);
  const url = typeof spec.url === 'string' ? spec.url : '';
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url)?.[1]?.toLowerCase();
  if (url === '') out.push('spec.url is required');
  else if (scheme !== undefined && !['http', 'https', 'oci', 'file'].includes(scheme))
    out.push(`spec.url: scheme ${scheme} is not one of http, https, oci, file`);
  if (
    spec.sha256 !== undefined &&
    !(spec.sha256 === '' || (typeof spec.sha256 === 'string' && SHA256.test(spec.sha256)))
  )
    out.push('spec.sha256 must be 64 lower-case hex digits');
  if (spec.pluginName !== ROOT_ID)
    out.push(
      `spec.pluginName must be ${JSON.stringify(ROOT_ID)}, the root id the filter registers (got ${JSON.stringify(spec.pluginName)})`,
    );
  if (spec.pluginConfig !== undefined) checkConfig(spec.pluginConfig, 'spec.pluginConfig', out);
  if (
    spec.failStrategy !== undefined &&
    !['FAIL_CLOSE', 'FAIL_OPEN', 'FAIL_RELOAD'].includes(spec.failStrategy as string)
  )
    out.push(
      `spec.failStrategy ${JSON.stringify(spec.failStrategy)} is not FAIL_CLOSE, FAIL_OPEN or FAIL_RELOAD`,
    );
  if (mesh) {
    if (mesh.family === 'eg') out.push(`WasmPlugin does not exist on ${mesh.id}`);
    const features = meshFeatures(mesh);
    if (spec.failStrategy !== undefined && !features.failStrategy)
      out.push(`spec.failStrategy does not exist on ${mesh.id}`);
    if (spec.failStrategy === 'FAIL_RELOAD' && !features.failReload)
      out.push(`spec.failStrategy FAIL_RELOAD does not exist on ${mesh.id}`);
    if (spec.targetRef !== undefined && !features.targetRef)
      out.push(`spec.targetRef does not exist on ${mesh.id}`);
    if (spec.targetRefs !== undefined && !features.targetRefs)
      out.push(`spec.targetRefs does not exist on ${mesh.id}`);
  }
}

/** Wasm filter configs inside an EnvoyFilter patch value, with whether they are inline (not ECDS). */
function wasmConfigs(patch: Obj): { config: Obj; inline: boolean }[] {
  const value = obj(obj(patch.patch).value);
  const typed = obj(value.typed_config);
  if (typed['@type'] !== WASM_TYPE) return [];
  return [{ config: obj(typed.config), inline: patch.applyTo === 'HTTP_FILTER' }];
}

/**
 * The filter configurations a resource carries: WasmPlugin pluginConfig and EnvoyExtensionPolicy
 * wasm[].config as objects, EnvoyFilter wasm `configuration.value` as the JSON text.
 */
export function embeddedFilterConfigs(o: Obj): { where: string; config: unknown }[] {
  const spec = obj(o.spec);
  switch (o.kind) {
    case 'WasmPlugin':
      return spec.pluginConfig === undefined
        ? []
        : [{ where: 'spec.pluginConfig', config: spec.pluginConfig }];
    case 'EnvoyExtensionPolicy':
      return arr(spec.wasm).flatMap((wasm, i) =>
        obj(wasm).config === undefined ? [] : [{ where: `spec.wasm[${i}].config`, config: obj(wasm).config }],
      );
    case 'EnvoyFilter':
      return arr(spec.configPatches).flatMap((patch, i) =>
        wasmConfigs(obj(patch)).map(({ config }) => ({
          where: `spec.configPatches[${i}] configuration.value`,
          config: obj(config.configuration).value,
        })),
      );
    default:
      return [];
  }
}

/** Every `port_value` inside an Envoy config value (socket addresses), with its path. */
function portValues(value: unknown, path: string, out: { path: string; value: unknown }[]): void {
  if (Array.isArray(value)) value.forEach((item, i) => portValues(item, `${path}[${i}]`, out));
  else if (isObj(value))
    for (const [key, child] of Object.entries(value)) {
      if (key === 'port_value' || key === 'portValue') out.push({ path: `${path}.${key}`, value: child });
      else portValues(child, `${path}.${key}`, out);
    }
}

function checkEnvoyFilter(o: Obj, mesh: MeshVersion | undefined, out: string[]): void {
  const spec = obj(o.spec);
  // Istio applies an EnvoyFilter without either to every workload of its namespace (of the whole
  // mesh in the root namespace): never what a per-workload callout filter means.
  if (spec.workloadSelector === undefined && spec.targetRefs === undefined)
    out.push(
      'spec: no workloadSelector or targetRefs, so it applies to every workload in the namespace; set spec.workloadSelector.labels or spec.targetRefs',
    );
  const ports: { path: string; value: unknown }[] = [];
  arr(spec.configPatches).forEach((patch, i) =>
    portValues(obj(obj(patch).patch).value, `spec.configPatches[${i}].patch.value`, ports),
  );
  for (const port of ports)
    if (!Number.isInteger(port.value) || (port.value as number) < 0 || (port.value as number) > 65535)
      out.push(`${port.path}: ${show(port.value)} is not a port (0-65535)`);
  if (spec.workloadSelector !== undefined && spec.targetRefs !== undefined)
    out.push('spec: only one of workloadSelector and targetRefs may be set');
  checkSelectorLabels(obj(spec.workloadSelector).labels, 'spec.workloadSelector.labels', out);
  checkPolicyRefs(arr(spec.targetRefs), 'spec.targetRefs', out);
  arr(spec.configPatches).forEach((entry, i) => {
    const patch = obj(entry);
    const where = `spec.configPatches[${i}]`;
    const operation = obj(patch.patch).operation;
    if (typeof patch.applyTo !== 'string') out.push(`${where}.applyTo is required`);
    if (typeof operation !== 'string') out.push(`${where}.patch.operation is required`);
    else if (operation !== 'REMOVE' && obj(patch.patch).value === undefined)
      out.push(`${where}.patch.value is required for ${operation}`);
    for (const { config, inline } of wasmConfigs(patch)) {
      if (config.root_id !== ROOT_ID)
        out.push(
          `${where}: root_id must be ${JSON.stringify(ROOT_ID)}, the root id the filter registers (got ${JSON.stringify(config.root_id)})`,
        );
      const configuration = obj(config.configuration);
      if (typeof configuration.value !== 'string') {
        out.push(
          `${where}: configuration must be a google.protobuf.StringValue holding the filter configuration JSON`,
        );
      } else {
        let parsed: unknown;
        try {
          parsed = JSON.parse(configuration.value);
        } catch {
          out.push(`${where}: configuration.value is not JSON`);
        }
        if (parsed !== undefined) checkConfig(parsed, `${where} configuration`, out);
      }
      const remote = obj(obj(obj(config.vm_config).code).remote);
      const uri = obj(remote.http_uri).uri;
      if (inline && typeof uri === 'string') {
        if (!/^https?:\/\//.test(uri))
          out.push(
            `${where}: Envoy fetches code.remote itself and cannot read ${uri.split(':')[0]}:// URLs; use the ECDS form (EXTENSION_CONFIG) for OCI images`,
          );
        if (typeof remote.sha256 !== 'string' || !SHA256.test(remote.sha256))
          out.push(`${where}: code.remote.sha256 is required (64 lower-case hex digits)`);
      }
      if (mesh && config.failure_policy !== undefined && !meshFeatures(mesh).failReload)
        out.push(`${where}: failure_policy does not exist on ${mesh.id}'s Envoy; use fail_open`);
    }
  });
  if (mesh) {
    if (mesh.family === 'eg') out.push(`EnvoyFilter does not exist on ${mesh.id}`);
    const features = meshFeatures(mesh);
    if (spec.targetRefs !== undefined && !features.targetRefs)
      out.push(`spec.targetRefs does not exist on ${mesh.id}`);
    if (obj(obj(o.metadata).annotations)[REFERENCED_SERVICES] !== undefined && !features.referencedServices)
      out.push(`annotation ${REFERENCED_SERVICES} is ignored before Istio 1.26 (${mesh.id})`);
  }
}

function checkGatewayRef(ref: Obj, where: string, kinds: string[], out: string[]): void {
  if (ref.group !== GATEWAY_API_GROUP) out.push(`${where}.group must be ${GATEWAY_API_GROUP}`);
  if (!kinds.includes(ref.kind as string)) out.push(`${where}.kind must be one of ${kinds.join(', ')}`);
  if (typeof ref.name !== 'string' || !isDnsSubdomain(ref.name))
    out.push(`${where}.name ${JSON.stringify(ref.name)} is not a DNS-1123 name`);
}

function checkEnvoyExtensionPolicy(o: Obj, mesh: MeshVersion | undefined, out: string[]): void {
  const spec = obj(o.spec);
  const single = spec.targetRef !== undefined;
  const many = spec.targetRefs !== undefined;
  if (single === many && arr(spec.targetSelectors).length === 0)
    out.push('spec: exactly one of targetRef and targetRefs must be set');
  if (single) checkGatewayRef(obj(spec.targetRef), 'spec.targetRef', EG_TARGET_KINDS, out);
  arr(spec.targetRefs).forEach((ref, i) =>
    checkGatewayRef(obj(ref), `spec.targetRefs[${i}]`, EG_TARGET_KINDS, out),
  );
  const wasm = arr(spec.wasm);
  if (wasm.length > 16) out.push('spec.wasm: at most 16 entries');
  wasm.forEach((entry, i) => {
    const where = `spec.wasm[${i}]`;
    const item = obj(entry);
    const code = obj(item.code);
    if (code.type === 'HTTP' ? code.http === undefined : code.http !== undefined)
      out.push(`${where}.code: type HTTP goes with code.http, and only then`);
    if (code.type === 'Image' ? code.image === undefined : code.image !== undefined)
      out.push(`${where}.code: type Image goes with code.image, and only then`);
    for (const source of ['http', 'image']) {
      const sha = obj(code[source]).sha256;
      if (sha !== undefined && (typeof sha !== 'string' || !SHA256.test(sha)))
        out.push(`${where}.code.${source}.sha256 must be 64 lower-case hex digits`);
    }
    const secret = obj(obj(code.image).pullSecretRef);
    if (
      code.image !== undefined &&
      obj(code.image).pullSecretRef !== undefined &&
      (secret.kind ?? 'Secret') !== 'Secret'
    )
      out.push(`${where}.code.image.pullSecretRef.kind must be Secret`);
    if (item.rootID !== ROOT_ID)
      out.push(
        `${where}.rootID must be ${JSON.stringify(ROOT_ID)}, the root id the filter registers (got ${JSON.stringify(item.rootID)})`,
      );
    if (item.config !== undefined) checkConfig(item.config, `${where}.config`, out);
  });
  if (mesh && mesh.family !== 'eg') out.push(`EnvoyExtensionPolicy does not exist on ${mesh.id}`);
}

function checkEnvoyPatchPolicy(o: Obj, mesh: MeshVersion | undefined, out: string[]): void {
  const spec = obj(o.spec);
  if (spec.type !== 'JSONPatch') out.push('spec.type must be JSONPatch');
  checkGatewayRef(obj(spec.targetRef), 'spec.targetRef', ['Gateway', 'GatewayClass'], out);
  if (mesh && mesh.family !== 'eg') out.push(`EnvoyPatchPolicy does not exist on ${mesh.id}`);
}

const CHECKS: Record<string, (o: Obj, mesh: MeshVersion | undefined, out: string[]) => void> = {
  WasmPlugin: checkWasmPlugin,
  EnvoyFilter: checkEnvoyFilter,
  EnvoyExtensionPolicy: checkEnvoyExtensionPolicy,
  EnvoyPatchPolicy: checkEnvoyPatchPolicy,
};

/**
 * Where the schema of a kind meshwasm does not own may be found: the @kubernetes-models package for
 * its API group. Other kinds (Deployment, Service, …) are passed over with a note.
 */
const FOREIGN_PACKAGES: [RegExp, string][] = [
  [/\.istio\.io$/, '@kubernetes-models/istio'],
  [/^gateway\.networking\.(x-)?k8s\.io$/, '@kubernetes-models/gateway-api'],
  [/^gateway\.envoyproxy\.io$/, '@kubernetes-models/envoy-gateway'],
];

async function foreignModel(apiVersion: unknown, kind: unknown): Promise<ModelClass | undefined> {
  if (typeof apiVersion !== 'string' || typeof kind !== 'string') return undefined;
  // Only names that cannot walk out of the package's exports.
  const match = /^([a-z0-9.-]+)\/(v[0-9a-z]+)$/.exec(apiVersion);
  if (!match || !/^[A-Z][A-Za-z0-9]*$/.test(kind)) return undefined;
  const pkg = FOREIGN_PACKAGES.find(([group]) => group.test(match[1]))?.[1];
  if (!pkg) return undefined;
  try {
    return (await import(`${pkg}/${apiVersion}/${kind}`))[kind] as ModelClass | undefined;
  } catch {
    return undefined;
  }
}

export interface ValidateOptions {
  /** Gate fields by this mesh version; without it only version-independent rules apply. */
  mesh?: MeshVersion;
  /** Collects one note per resource that was passed over (a kind whose schema meshwasm does not know). */
  notes?: string[];
}

function unknownFieldProblems(item: Obj): string[] {
  const tree = knownFields(item.kind as string);
  /* c8 ignore next -- called for owned kinds only */
  if (!tree) return [];
  return unknownFields(item, tree).map(({ path, candidates }) => {
    const key = path.slice(path.lastIndexOf('.') + 1).replace(/\[\d+\]$/, '');
    const guess = closest(key, candidates);
    return `unknown field ${path}${guess ? `; did you mean ${guess}?` : ''} (the API server would drop it)`;
  });
}

/** Problems with the resources, each prefixed by "<Kind> <namespace>/<name>: "; [] when all pass. */
export async function validateObjects(objects: unknown[], options: ValidateOptions = {}): Promise<string[]> {
  const problems: string[] = [];
  const flat: unknown[] = [];
  for (const item of objects) {
    if (isObj(item) && item.kind === 'List' && item.apiVersion === 'v1') flat.push(...arr(item.items));
    else flat.push(item);
  }
  for (const item of flat) {
    if (!isObj(item)) {
      problems.push(`${show(item)}: not a Kubernetes resource`);
      continue;
    }
    const name = label(item);
    if (typeof item.apiVersion !== 'string' || typeof item.kind !== 'string') {
      problems.push(`${name}: apiVersion and kind are required`);
      continue;
    }
    const model = MODEL_CLASSES[item.kind];
    if (!model || item.apiVersion !== model.apiVersion) {
      const foreign = await foreignModel(item.apiVersion, item.kind);
      if (!foreign) {
        if (model) problems.push(`${name}: apiVersion must be ${model.apiVersion}`);
        else
          options.notes?.push(`${name} (${item.apiVersion}): not checked, meshwasm knows no schema for it`);
        continue;
      }
      try {
        new foreign(item).validate();
      } catch (error) {
        problems.push(`${name}: schema: ${(error as Error).message}`);
      }
      continue;
    }
    const out: string[] = [];
    try {
      new (await model.load())(item).validate();
    } catch (error) {
      out.push(`schema: ${(error as Error).message}`);
    }
    out.push(...unknownFieldProblems(item));
    checkMetadata(item, out);
    CHECKS[item.kind](item, options.mesh, out);
    problems.push(...out.map((message) => `${name}: ${message}`));
  }
  return problems;
}
