import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { ErrorObject, ValidateFunction } from 'ajv';

import { packagePath } from './package-root.js';
import { artifactKey, builtArtifactsDir, loadPrecompiled } from './precompiled.js';

/**
 * The filter configuration contract, filter/config.schema.json, read at run time from the
 * package root (it ships with the package). Its `default`s are the defaults of the matching
 * render settings and --help, and every configuration meshwasm emits or validates is checked
 * against it with ajv, so the filter's rules are written once, in the schema. The validator is
 * made on the first check only: reading defaults (flag definitions, --help) does not pay for it.
 * It is the build's ajv standalone code for this exact schema when there is one
 * (renderers/precompiled.ts), else compiled with ajv here; the two are the same ajv output.
 */

export interface SchemaProperty {
  type?: string;
  description?: string;
  default?: unknown;
  pattern?: string;
  enum?: unknown[];
  minimum?: number;
  maximum?: number;
  maxLength?: number;
  minLength?: number;
}

export interface FilterSchema {
  properties: Record<string, SchemaProperty>;
}

let schemaText: string | undefined;
let schema: FilterSchema | undefined;
let validator: ValidateFunction | undefined;

export function filterSchemaText(): string {
  schemaText ??= readFileSync(packagePath('filter', 'config.schema.json'), 'utf8');
  return schemaText;
}

export function filterSchema(): FilterSchema {
  schema ??= JSON.parse(filterSchemaText()) as FilterSchema;
  return schema;
}

export interface FilterConfigProblem {
  /** Top-level property the problem is about ("" for the object itself). */
  property: string;
  message: string;
}

function describe(error: ErrorObject): string {
  const where = error.instancePath.split('/').slice(2).join('/');
  const prefix = where ? `${where}: ` : '';
  switch (error.keyword) {
    case 'pattern':
      return `${prefix}must match ${error.params.pattern}`;
    case 'enum':
      return `${prefix}must be one of ${(error.params.allowedValues as unknown[]).join(', ')}`;
    case 'additionalProperties':
      return `unknown key ${JSON.stringify(error.params.additionalProperty)}`;
    default:
      return `${prefix}${error.message ?? error.keyword}`;
  }
}

type AjvClass = typeof import('ajv').default;
type AjvOptions = ConstructorParameters<AjvClass>[0];

// ajv is CommonJS, so it can be required synchronously, when first needed.
const require = createRequire(import.meta.url);
const AJV_OPTIONS = { allErrors: true, strict: false } as const;
export const FILTER_VALIDATOR_FILE = 'filter-config-validator.cjs';

/** The key of what a standalone validator must have been generated from to stand in for compileValidator(). */
export function validatorKey(text: string): string {
  return artifactKey(
    text,
    JSON.stringify(AJV_OPTIONS),
    (require('ajv/package.json') as { version: string }).version,
  );
}

/** Compiles the schema with ajv (`extra` options: the build adds code.source for standalone output). */
export function compileValidator(extra: AjvOptions = {}): {
  ajv: InstanceType<AjvClass>;
  validate: ValidateFunction;
} {
  const Ajv = require('ajv').default as AjvClass;
  const ajv = new Ajv({ ...AJV_OPTIONS, ...extra });
  return { ajv, validate: ajv.compile(filterSchema()) };
}

/** The standalone validator in `dir` if it was generated from this very schema text, ajv options and version. */
export function precompiledValidator(dir = builtArtifactsDir()): ValidateFunction | undefined {
  const standalone = loadPrecompiled<ValidateFunction & { key?: string }>(FILTER_VALIDATOR_FILE, dir);
  return standalone?.key === validatorKey(filterSchemaText()) ? standalone : undefined;
}

/** Problems with a filter configuration object, first one per property; [] when it is valid. */
export function checkFilterConfig(config: unknown): FilterConfigProblem[] {
  validator ??= precompiledValidator() ?? compileValidator().validate;
  if (validator(config)) return [];
  const seen = new Set<string>();
  const problems: FilterConfigProblem[] = [];
  for (const error of validator.errors ?? []) {
    // anyOf/if branches repeat the same complaint; keep the leaf one for each property.
    if (error.keyword === 'anyOf') continue;
    const property =
      error.instancePath.split('/')[1] ?? (error.params.additionalProperty as string | undefined) ?? '';
    if (seen.has(property)) continue;
    seen.add(property);
    problems.push({ property, message: describe(error) });
  }
  return problems;
}
