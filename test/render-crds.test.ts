// Validates every golden against the upstream CRD it will meet, as the Go modules that define them
// are downloaded (scripts/components/crds.sh links them into $MESHWASM_CACHE/bin/crds): the CRD's
// openAPIV3Schema compiled with ajv, made strict the way Kubernetes' structural pruning is not: an
// unknown field is an error here instead of being silently dropped.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import AjvModule from 'ajv';
import t from 'tap';
import { parseAllDocuments } from 'yaml';

import { parseManifestText } from '../renderers/validate.js';
import { parseMeshVersion } from '../renderers/versions.js';
import { requireComponent } from './helpers/components.js';
import { GOLDEN_CASES } from './helpers/render-cases.js';
import { ROOT } from './helpers/render-run.js';

type Schema = Record<string, unknown>;
type AjvClass = typeof AjvModule.default;
const Ajv = ((AjvModule as unknown as { default?: AjvClass }).default ?? AjvModule) as AjvClass;
const ajv = new Ajv({ allErrors: true, strict: false, validateFormats: false });

function strict(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(strict);
  if (typeof schema !== 'object' || schema === null) return schema;
  const out: Schema = {};
  for (const [key, value] of Object.entries(schema))
    out[key] =
      key === 'properties'
        ? Object.fromEntries(Object.entries(value as Schema).map(([k, v]) => [k, strict(v)]))
        : strict(value);
  if (
    out.properties &&
    out.additionalProperties === undefined &&
    out['x-kubernetes-preserve-unknown-fields'] !== true
  )
    out.additionalProperties = false;
  return out;
}

const validators = new Map<string, ReturnType<typeof ajv.compile>>();

interface Crd {
  kind: string;
  spec: { names: { kind: string }; versions: { name: string; schema: { openAPIV3Schema: unknown } }[] };
}

/** The CRD documents of one file; Envoy Gateway's are Helm templates whose only template lines are whole `{{- … }}` lines. */
function crdsIn(file: string): Crd[] {
  const text = readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => !/^\s*\{\{-?.*\}\}\s*$/.test(line))
    .join('\n');
  return parseAllDocuments(text)
    .map((d) => d.toJS() as Crd)
    .filter((d) => d?.kind === 'CustomResourceDefinition');
}

function crdValidator(crds: string, file: string, kind: string, version: string) {
  const key = `${file}:${kind}@${version}`;
  let validate = validators.get(key);
  if (!validate) {
    const crd = crdsIn(join(crds, file)).find((c) => c.spec.names.kind === kind);
    if (!crd) throw new Error(`${file} has no CRD for ${kind}`);
    const entry = crd.spec.versions.find((v) => v.name === version);
    if (!entry) throw new Error(`${file} has no version ${version} of ${kind}`);
    // Some CRDs (Istio's) leave the object's own apiVersion/kind/metadata undeclared.
    const root = entry.schema.openAPIV3Schema as Schema;
    const properties = {
      apiVersion: { type: 'string' },
      kind: { type: 'string' },
      metadata: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
      ...(root.properties as Schema),
    };
    validate = ajv.compile(strict({ ...root, properties }) as Schema);
    validators.set(key, validate);
  }
  return validate;
}

/**
 * The CRD file a mesh version's objects meet. Istio 1.26 and older get tag 1.26.0's CRDs, 1.27+ the
 * current ones. OSSM 2.5/2.6 (Maistra) publish no Go module the proxy serves, so they are checked
 * against 1.26.0's too: the fields a Maistra version lacks are meshwasm's own validate's to catch
 * (test/render-validate.test.ts), not this test's.
 */
export function crdFileFor(kind: string, mesh: string): string {
  switch (kind) {
    case 'WasmPlugin':
    case 'EnvoyFilter':
      return (parseMeshVersion(mesh)?.istioMinor ?? 0) >= 27
        ? 'istio/crd-all.gen.yaml'
        : 'istio-1.26/crd-all.gen.yaml';
    case 'EnvoyExtensionPolicy':
      return 'envoy-gateway/gateway.envoyproxy.io_envoyextensionpolicies.yaml';
    case 'EnvoyPatchPolicy':
      return 'envoy-gateway/gateway.envoyproxy.io_envoypatchpolicies.yaml';
    default:
      throw new Error(`no CRD for ${kind}`);
  }
}

function crdErrors(crds: string, object: Record<string, unknown>, mesh: string): string[] {
  const kind = object.kind as string;
  const validate = crdValidator(crds, crdFileFor(kind, mesh), kind, String(object.apiVersion).split('/')[1]);
  return validate(object)
    ? []
    : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message} ${JSON.stringify(e.params)}`);
}

t.test('goldens against the upstream CRDs', async (t) => {
  const crds = requireComponent(t, 'crds');
  if (!crds) return;
  for (const c of GOLDEN_CASES) {
    const { objects, problems } = parseManifestText(
      readFileSync(join(ROOT, 'test', 'golden', `${c.name}.yaml`), 'utf8'),
      c.name,
    );
    t.same(problems, [], `${c.name} parses`);
    for (const object of objects as Record<string, unknown>[]) {
      t.same(
        crdErrors(crds, object, c.mesh),
        [],
        `${c.name}: ${object.kind} valid against ${crdFileFor(object.kind as string, c.mesh)}`,
      );
    }
  }
});

t.test('the strict CRD check rejects what the CRD lacks', async (t) => {
  const crds = requireComponent(t, 'crds');
  if (!crds) return;
  const golden = (name: string) =>
    parseManifestText(readFileSync(join(ROOT, 'test', 'golden', `${name}.yaml`), 'utf8'), name)
      .objects[0] as Record<string, unknown>;
  const failOpen = golden('ossm/sidecar-fail-open-ossm-2.6');
  t.same(crdErrors(crds, failOpen, 'istio-1.30'), [], 'failStrategy exists on the current Istio');
  const unknown = structuredClone(failOpen) as { spec: Record<string, unknown> };
  unknown.spec.failStrategyy = 'FAIL_OPEN';
  t.match(
    crdErrors(crds, unknown as unknown as Record<string, unknown>, 'istio-1.30').join('\n'),
    /additionalProperty.*failStrategyy/,
    'a field the CRD does not declare is an error, not pruned',
  );
  const reload = golden('ossm/sidecar-fail-reload-ossm-3.2');
  t.match(
    crdErrors(crds, reload, 'istio-1.26').join('\n'),
    /failStrategy|allowedValues/,
    "FAIL_RELOAD is not in Istio 1.26.0's WasmPlugin CRD",
  );
  const eep = golden('envoy-gateway/route-eg-1.9');
  const broken = structuredClone(eep) as { spec: { wasm: { code: Record<string, unknown> }[] } };
  broken.spec.wasm[0].code.type = 'ConfigMap';
  t.not(
    crdErrors(crds, broken as unknown as Record<string, unknown>, 'eg-1.9').length,
    0,
    'an EnvoyExtensionPolicy code type outside HTTP/Image is rejected',
  );
});
