// Validates every golden against the upstream CRD it will meet (../shared/crds, present in CI):
// the CRD's openAPIV3Schema compiled with ajv, made strict the way Kubernetes' structural pruning
// is not: an unknown field is an error here instead of being silently dropped, so a field that a
// mesh version lacks (failStrategy on OSSM 2.5, targetRefs on OSSM 2.6, …) fails the test.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import AjvModule from 'ajv';
import t from 'tap';
import { parse } from 'yaml';

import { parseManifestText } from '../renderers/validate.js';
import { GOLDEN_CASES } from './helpers/render-cases.js';
import { ROOT } from './helpers/render-run.js';

const CRDS = join(ROOT, '..', 'shared', 'crds');

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

function crdValidator(file: string, version: string) {
  const key = `${file}@${version}`;
  let validate = validators.get(key);
  if (!validate) {
    const crd = parse(readFileSync(join(CRDS, file), 'utf8')) as {
      spec: { versions: { name: string; schema: { openAPIV3Schema: unknown } }[] };
    };
    const entry = crd.spec.versions.find((v) => v.name === version);
    if (!entry) throw new Error(`${file} has no version ${version}`);
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

export function crdFileFor(kind: string, mesh: string): string {
  switch (kind) {
    case 'WasmPlugin':
      return mesh === 'ossm-2.5'
        ? 'maistra-2.5-wasmplugin.yaml'
        : mesh === 'ossm-2.6'
          ? 'maistra-2.6-wasmplugin.yaml'
          : 'istio-wasmplugin.yaml';
    case 'EnvoyFilter':
      return 'istio-envoyfilter.yaml';
    case 'EnvoyExtensionPolicy':
      return 'eg-envoyextensionpolicy.yaml';
    case 'EnvoyPatchPolicy':
      return 'eg-envoypatchpolicy.yaml';
    default:
      throw new Error(`no CRD for ${kind}`);
  }
}

function crdErrors(object: Record<string, unknown>, mesh: string): string[] {
  const validate = crdValidator(
    crdFileFor(object.kind as string, mesh),
    String(object.apiVersion).split('/')[1],
  );
  return validate(object)
    ? []
    : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message} ${JSON.stringify(e.params)}`);
}

t.test(
  'goldens against the upstream CRDs',
  { skip: existsSync(CRDS) ? false : `${CRDS} not present` },
  async (t) => {
    for (const c of GOLDEN_CASES) {
      const { objects, problems } = parseManifestText(
        readFileSync(join(ROOT, 'test', 'golden', `${c.name}.yaml`), 'utf8'),
        c.name,
      );
      t.same(problems, [], `${c.name} parses`);
      for (const object of objects as Record<string, unknown>[]) {
        t.same(
          crdErrors(object, c.mesh),
          [],
          `${c.name}: ${object.kind} valid against ${crdFileFor(object.kind as string, c.mesh)}`,
        );
      }
    }
  },
);

t.test(
  'the strict CRD check rejects what a mesh version lacks',
  { skip: existsSync(CRDS) ? false : `${CRDS} not present` },
  async (t) => {
    const golden = (name: string) =>
      parseManifestText(readFileSync(join(ROOT, 'test', 'golden', `${name}.yaml`), 'utf8'), name)
        .objects[0] as Record<string, unknown>;
    const failOpen = golden('ossm/sidecar-fail-open-ossm-2.6');
    t.same(crdErrors(failOpen, 'ossm-2.6'), [], 'failStrategy exists on OSSM 2.6');
    t.match(
      crdErrors(failOpen, 'ossm-2.5').join('\n'),
      /additionalProperty.*failStrategy/,
      'but not on OSSM 2.5',
    );
    const refs = golden('ossm/gateway-api-ossm-3.0');
    t.match(crdErrors(refs, 'ossm-2.6').join('\n'), /targetRefs/, 'targetRefs does not exist on OSSM 2.6');
    const eep = golden('envoy-gateway/route-eg-1.9');
    const broken = structuredClone(eep) as { spec: { wasm: { code: Record<string, unknown> }[] } };
    broken.spec.wasm[0].code.type = 'ConfigMap';
    t.not(
      crdErrors(broken as unknown as Record<string, unknown>, 'eg-1.9').length,
      0,
      'an EnvoyExtensionPolicy code type outside HTTP/Image is rejected',
    );
  },
);
