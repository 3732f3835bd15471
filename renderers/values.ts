import { closest } from './did-you-mean.js';
import { UsageError } from './errors.js';
import { filterSchema } from './filter-schema.js';
import {
  envName,
  SETTINGS,
  SETTINGS_BY_KEY,
  type EgMerge,
  type Setting,
  type Shape,
  type Target,
} from './settings.js';
import type { TargetRef } from './value-types.js';
import { show, ValueProblem } from './value-types.js';

/**
 * Resolves render values from flags, MESHWASM_* environment variables, a values file and defaults
 * (in that order of precedence), parsing each with its setting's parser. Every problem becomes one
 * UsageError that names where the value came from (the flag, the env var or the values-file key)
 * and how to fix it.
 */

export interface Values {
  target: Target;
  meshVersion: string;
  shape: Shape;
  namespace: string;
  workload: string;
  workloadPort: number;
  selector?: Record<string, string>;
  targetRefs?: TargetRef[];
  gateway?: string;
  gatewayNamespace: string;
  gatewayClass?: string;
  egMerge?: EgMerge;
  calloutService: string;
  calloutNamespace: string;
  calloutPort: number;
  calloutCluster?: string;
  clusterDomain: string;
  calloutPath: string;
  calloutMethod: string;
  calloutAuthority?: string;
  calloutTimeoutMs: number;
  calloutHeaders: Record<string, string>;
  calloutBody: string;
  trigger: string;
  mode: string;
  failureStatus: number;
  fanOut: number;
  outcomeHeader: string;
  propagateHeaders: string[];
  maxInFlight: number;
  sampleRate: number;
  image?: string;
  url?: string;
  file?: string;
  sha256?: string;
  moduleCa?: string;
  pullSecret?: string;
  pullPolicy?: string;
  /** Seconds, the overall deadline of pinning --image. */
  registryTimeout: number;
  pluginName: string;
  phase?: string;
  priority?: number;
  failOpen: boolean;
  failReload: boolean;
  output: 'yaml' | 'json';
  outputDir?: string;
}

export type Source =
  { kind: 'flag' } | { kind: 'env' } | { kind: 'file'; file: string } | { kind: 'default' };

export interface ValueInputs {
  /** Values given on the command line, by setting key (strings, booleans or string arrays). */
  flags?: Record<string, unknown>;
  /** The process environment; MESHWASM_* variables are read from it. */
  env?: Record<string, string | undefined>;
  /** A parsed values file and the name to report it by. */
  file?: { name: string; data: unknown };
}

export class ResolvedValues {
  constructor(
    readonly values: Values,
    readonly sources: Readonly<Record<string, Source>>,
  ) {}

  /** Where a setting's value came from, as a user would name it. */
  describe(key: string): string {
    const setting = SETTINGS_BY_KEY.get(key);
    /* c8 ignore next -- programming error */
    if (!setting) throw new Error(`unknown setting ${key}`);
    return describeSource(setting, this.sources[key] ?? { kind: 'default' });
  }

  /** Was the value given by the user (flag, env or file) rather than defaulted? */
  given(key: string): boolean {
    const kind = this.sources[key]?.kind;
    return kind !== undefined && kind !== 'default';
  }

  /** A UsageError naming the first of `keys` the user gave (or the first one), with the fix. */
  problem(keys: string | string[], message: string): UsageError {
    const list = Array.isArray(keys) ? keys : [keys];
    const key = list.find((k) => this.given(k)) ?? list[0];
    return new UsageError(`${this.describe(key)}: ${message}`);
  }
}

export function describeSource(setting: Setting, source: Source): string {
  switch (source.kind) {
    case 'env':
      return `${envName(setting)} (--${setting.flag})`;
    case 'file':
      return `${setting.key} in ${source.file} (--${setting.flag})`;
    default:
      return `--${setting.flag}`;
  }
}

function fileEntries(file: { name: string; data: unknown }): Record<string, unknown> {
  const { name, data } = file;
  if (data === null || data === undefined) return {};
  if (typeof data !== 'object' || Array.isArray(data)) {
    throw new UsageError(
      `${name} (--values): the values file must be a YAML mapping of setting: value; see --print-values for one`,
    );
  }
  const keys = SETTINGS.map((setting) => setting.key);
  for (const key of Object.keys(data)) {
    if (!SETTINGS_BY_KEY.has(key)) {
      const guess = closest(key, keys);
      throw new UsageError(
        `${name} (--values): unknown key ${show(key)}; ${guess ? `did you mean ${guess}?` : 'see --print-values for the keys'}`,
      );
    }
  }
  return data as Record<string, unknown>;
}

function schemaDefault(setting: Setting): unknown {
  return setting.filterKey === undefined ? undefined : filterSchema().properties[setting.filterKey]?.default;
}

/** Resolves every setting. Throws UsageError for the first value that does not parse. */
export function resolveValues(inputs: ValueInputs): ResolvedValues {
  const fromFile = inputs.file ? fileEntries(inputs.file) : {};
  const env = inputs.env ?? {};
  const flags = inputs.flags ?? {};
  const values: Record<string, unknown> = {};
  const sources: Record<string, Source> = {};
  const deferred: Setting[] = [];

  for (const setting of SETTINGS) {
    let raw: unknown;
    let source: Source;
    const envValue = env[envName(setting)];
    if (flags[setting.key] !== undefined) {
      raw = flags[setting.key];
      source = { kind: 'flag' };
    } else if (envValue !== undefined && envValue !== '') {
      raw = envValue;
      source = { kind: 'env' };
    } else if (fromFile[setting.key] !== undefined && fromFile[setting.key] !== null) {
      raw = fromFile[setting.key];
      source = { kind: 'file', file: inputs.file!.name };
    } else {
      if (setting.derive) deferred.push(setting);
      else values[setting.key] = setting.default ?? schemaDefault(setting);
      sources[setting.key] = { kind: 'default' };
      continue;
    }
    try {
      values[setting.key] = setting.parse(raw);
    } catch (error) {
      /* c8 ignore next -- parsers only throw ValueProblem */
      if (!(error instanceof ValueProblem)) throw error;
      throw new UsageError(`${describeSource(setting, source)}: ${error.message}`);
    }
    sources[setting.key] = source;
  }
  // Derived defaults read the other values, so they are filled in once those are known
  // (in table order: shape depends on target, pluginName on shape and gateway).
  for (const setting of deferred) values[setting.key] = setting.derive!(values);

  return new ResolvedValues(values as unknown as Values, sources);
}
