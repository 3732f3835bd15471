import { UsageError } from '../renderers/errors.js';
import { isLabelValue } from '../renderers/value-types.js';
import type { ResolvedValues } from '../renderers/values.js';
import { Api, type KubeObject, resourceName, type ResourceType, statusText } from './api.js';
import type { ApiResponse } from './connection.js';
import { ClusterError } from './errors.js';
import { CALLOUT_SERVICE, FIELD_MANAGER, INSTANCE, MANAGED_BY } from './labels.js';

/**
 * Server-side apply of rendered objects with field manager `meshwasm`. Every type is resolved
 * first, so a missing CRD fails the run before anything is written. Each object's outcome
 * (created, configured, unchanged) comes from comparing it before and after the apply, which also
 * holds for --dry-run=server, where nothing is persisted.
 */

export type Outcome = 'created' | 'configured' | 'unchanged';

export interface ApplyOptions {
  instance: string;
  /** `<namespace>/<service>:<port>` for the status command; undefined when there is no Service to check. */
  calloutService?: string;
  dryRun: boolean;
  /** Take over fields another field manager owns. */
  force: boolean;
}

export interface Applied {
  object: KubeObject;
  /** e.g. wasmplugins.extensions.istio.io/meshwasm-back-golang */
  ref: string;
  outcome: Outcome;
  warnings: string[];
}

export function markOwned(
  object: KubeObject,
  options: Pick<ApplyOptions, 'instance' | 'calloutService'>,
): KubeObject {
  const metadata = object.metadata ?? {};
  return {
    ...object,
    metadata: {
      ...metadata,
      labels: { ...(metadata.labels ?? {}), [MANAGED_BY]: 'meshwasm', [INSTANCE]: options.instance },
      ...(options.calloutService
        ? { annotations: { ...(metadata.annotations ?? {}), [CALLOUT_SERVICE]: options.calloutService } }
        : {}),
    },
  };
}

/** What an apply can change: everything but the fields the server maintains. */
const SERVER_METADATA = ['resourceVersion', 'managedFields', 'generation', 'creationTimestamp', 'uid'];
function comparable(object: KubeObject | undefined): string | undefined {
  if (!object) return undefined;
  const copy = structuredClone(object);
  delete copy.status;
  for (const key of SERVER_METADATA) delete copy.metadata?.[key];
  return JSON.stringify(copy);
}

export async function applyOne(
  api: Api,
  type: ResourceType,
  object: KubeObject,
  options: ApplyOptions,
): Promise<Applied> {
  const { name, namespace } = object.metadata;
  const ref = `${resourceName(type).toLowerCase()}/${name}`;
  const before = await api.get(type, namespace, name);
  const response = await api.call(
    {
      method: 'PATCH',
      path: api.path(type, namespace, name),
      query: {
        fieldManager: FIELD_MANAGER,
        fieldValidation: 'Strict',
        force: options.force ? 'true' : undefined,
        dryRun: options.dryRun ? 'All' : undefined,
      },
      // JSON is YAML: the apply patch content type takes it as is.
      body: object,
      contentType: 'application/apply-patch+yaml',
    },
    'patch',
    resourceName(type),
    namespace,
  );
  if (response.status === 409) throw conflict(ref, namespace, response.body);
  if (response.status === 404 && (response.body as KubeObject | undefined)?.details?.kind === 'namespaces')
    throw new ClusterError(
      `${ref}: namespace ${namespace} does not exist; create it (kubectl create namespace ${namespace}) or render for another with --namespace`,
    );
  if (response.status === 422 || response.status === 400 || isTypedPatchFailure(response))
    throw new ClusterError(`${ref} in ${namespace}: the API server rejected it (${statusText(response)})`);
  const after = api.expect(response, 'apply', ref);
  const outcome: Outcome = !before
    ? 'created'
    : comparable(before) === comparable(after)
      ? 'unchanged'
      : 'configured';
  return { object: after, ref, outcome, warnings: response.warnings };
}

/**
 * kube-apiserver answers a server-side apply whose object does not fit the schema (a field the CRD
 * does not declare, under fieldValidation=Strict) with HTTP 500 "failed to create typed patch object",
 * not 422: the fault is still the object's, so it is reported as a rejection, not a server error.
 */
function isTypedPatchFailure(response: ApiResponse): boolean {
  return response.status === 500 && /failed to create typed patch object/.test(statusText(response));
}

/** A server-side apply conflict: who owns which field, and the two ways out. */
function conflict(ref: string, namespace: string, status: KubeObject | undefined): ClusterError {
  const causes = ((status?.details?.causes ?? []) as KubeObject[]).filter(
    (cause) => cause.reason === 'FieldManagerConflict',
  );
  const owners = causes.map((cause) => {
    const manager = /conflict with "([^"]+)"/.exec(String(cause.message))?.[1] ?? 'another manager';
    return `${cause.field} (owned by field manager "${manager}")`;
  });
  return new ClusterError(
    `${ref} in ${namespace}: another field manager owns fields meshwasm sets: ${owners.join(', ') || String(status?.message ?? 'conflict')}; rerun with --force-conflicts to take them over, or change them with that manager instead`,
  );
}

export async function applyObjects(
  api: Api,
  objects: KubeObject[],
  options: ApplyOptions,
): Promise<Applied[]> {
  const types = await Promise.all(objects.map((object) => api.requireType(object.apiVersion, object.kind)));
  const applied: Applied[] = [];
  for (const [i, object] of objects.entries())
    applied.push(await applyOne(api, types[i], markOwned(object, options), options));
  return applied;
}

export interface ApplyRenderedOptions {
  kubeconfig?: string;
  context?: string;
  /** Default: the workload's name. */
  instance?: string;
  dryRun: boolean;
  force: boolean;
}

/** `meshwasm apply` after rendering: checks --instance, connects, applies. */
export async function applyRendered(
  resolved: ResolvedValues,
  objects: unknown[],
  options: ApplyRenderedOptions,
): Promise<Applied[]> {
  const values = resolved.values;
  if (values.outputDir !== undefined)
    throw resolved.problem(
      'outputDir',
      'apply sends the objects to the cluster; drop it (meshwasm render writes files)',
    );
  const instance = options.instance ?? values.workload;
  if (!isLabelValue(instance))
    throw new UsageError(
      `--instance: ${JSON.stringify(instance)} is not a label value (up to 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit)`,
    );
  const { connect } = await import('./connection.js');
  const api = new Api(await connect(options));
  return applyObjects(api, objects as KubeObject[], {
    instance,
    // With --callout-cluster the filter calls a cluster that already exists; there is no Service to check.
    calloutService:
      values.calloutCluster === undefined
        ? `${values.calloutNamespace}/${values.calloutService}:${values.calloutPort}`
        : undefined,
    dryRun: options.dryRun,
    force: options.force,
  });
}
