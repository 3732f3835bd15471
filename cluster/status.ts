import { type Api, type KubeObject, resourceName } from './api.js';
import { CALLOUT_SERVICE, INSTANCE, OWNED_KINDS, ownedSelector } from './labels.js';

/**
 * `meshwasm status`: the objects meshwasm applied, the conditions their controllers wrote, and the
 * checks for the failures that otherwise show up only as silence: the callout Service or its port
 * missing, no pod matching the selector, a missing image pull secret, a condition that is False
 * (EnvoyPatchPolicy disabled in Envoy Gateway gets its own fix). One hint per failure found.
 */

export interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
  /** The Gateway (or other ancestor) an Envoy Gateway policy condition is about. */
  ancestor?: string;
}

export interface OwnedObject {
  ref: string;
  namespace: string;
  instance?: string;
  conditions: Condition[];
}

export interface StatusReport {
  objects: OwnedObject[];
  hints: string[];
}

export interface StatusOptions {
  instance?: string;
  namespace?: string;
}

function conditionsOf(object: KubeObject): Condition[] {
  const own = ((object.status?.conditions ?? []) as KubeObject[]).map((c) => toCondition(c));
  const byAncestor = ((object.status?.ancestors ?? []) as KubeObject[]).flatMap((ancestor) =>
    ((ancestor.conditions ?? []) as KubeObject[]).map((c) =>
      toCondition(c, `${ancestor.ancestorRef?.kind ?? 'Gateway'}/${ancestor.ancestorRef?.name ?? '?'}`),
    ),
  );
  return [...own, ...byAncestor];
}

function toCondition(c: KubeObject, ancestor?: string): Condition {
  return {
    type: String(c.type),
    status: String(c.status),
    ...(c.reason ? { reason: String(c.reason) } : {}),
    ...(c.message ? { message: String(c.message) } : {}),
    ...(ancestor ? { ancestor } : {}),
  };
}

/** Pod labels the object selects by, if it attaches by selector. */
function selectorOf(object: KubeObject): Record<string, string> | undefined {
  return object.spec?.selector?.matchLabels ?? object.spec?.workloadSelector?.labels;
}

function pullSecretOf(object: KubeObject): string | undefined {
  if (object.spec?.imagePullSecret) return String(object.spec.imagePullSecret);
  const wasm = (object.spec?.wasm ?? []) as KubeObject[];
  return wasm.map((w) => w.code?.image?.pullSecretRef?.name).find(Boolean);
}

const show = (labels: Record<string, string>) =>
  Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');

export async function clusterStatus(api: Api, options: StatusOptions = {}): Promise<StatusReport> {
  const report: StatusReport = { objects: [], hints: [] };
  const found: { ref: string; object: KubeObject }[] = [];
  for (const { apiVersion, kind } of OWNED_KINDS) {
    const type = await api.resourceType(apiVersion, kind);
    if (!type) continue;
    const items = await api.list(type, {
      namespace: options.namespace,
      labelSelector: ownedSelector(options.instance),
    });
    for (const object of items)
      found.push({ ref: `${resourceName(type).toLowerCase()}/${object.metadata.name}`, object });
  }
  if (found.length === 0) {
    report.hints.push(
      `no objects of meshwasm${options.instance ? ` instance ${options.instance}` : ''}${options.namespace ? ` in ${options.namespace}` : ''}: run meshwasm apply first (or check --instance/--namespace)`,
    );
    return report;
  }
  const [serviceType, podType, secretType] = await Promise.all([
    api.requireType('v1', 'Service'),
    api.requireType('v1', 'Pod'),
    api.requireType('v1', 'Secret'),
  ]);
  const checked = new Set<string>();
  const once = (key: string) => !checked.has(key) && Boolean(checked.add(key));

  for (const { ref, object } of found) {
    const namespace = object.metadata.namespace;
    const conditions = conditionsOf(object);
    report.objects.push({ ref, namespace, instance: object.metadata.labels?.[INSTANCE], conditions });
    for (const c of conditions) {
      if (c.status !== 'False') continue;
      if (object.kind === 'EnvoyPatchPolicy' && c.reason === 'Disabled')
        report.hints.push(
          `${ref} in ${namespace}: EnvoyPatchPolicy is disabled in Envoy Gateway, so the callout cluster is never added; set extensionApis.enableEnvoyPatchPolicy: true in the envoy-gateway-config ConfigMap and restart envoy-gateway, or render with --callout-cluster naming a cluster that exists`,
        );
      else
        report.hints.push(
          `${ref} in ${namespace}: ${c.type} is False${c.ancestor ? ` for ${c.ancestor}` : ''}${c.reason ? ` (${c.reason})` : ''}${c.message ? `: ${c.message}` : ''}`,
        );
    }

    const callout = object.metadata.annotations?.[CALLOUT_SERVICE];
    const match = typeof callout === 'string' ? /^([^/]+)\/([^:]+):(\d+)$/.exec(callout) : null;
    if (match && once(`callout ${callout}`)) {
      const [, ns, name, port] = match;
      const service = await api.get(serviceType, ns, name);
      if (!service) {
        report.hints.push(
          `callout Service ${ns}/${name} does not exist, so every callout fails: create it, or render with --callout-service/--callout-namespace naming the Service to call`,
        );
      } else {
        const ports = (service.spec?.ports ?? []) as KubeObject[];
        if (!ports.some((p) => Number(p.port) === Number(port)))
          report.hints.push(
            `callout Service ${ns}/${name} has no port ${port} (its ports: ${ports.map((p) => p.port).join(', ') || 'none'}): render with --callout-port set to the Service port (not the targetPort)`,
          );
      }
    }

    const selector = selectorOf(object);
    if (selector && once(`pods ${namespace} ${show(selector)}`)) {
      const pods = await api.list(podType, { namespace });
      const matching = pods.filter((pod) =>
        Object.entries(selector).every(([k, v]) => pod.metadata.labels?.[k] === v),
      );
      if (matching.length === 0) {
        const seen = [...new Set(pods.map((pod) => pod.metadata.labels?.app).filter(Boolean))];
        report.hints.push(
          pods.length === 0
            ? `no pods run in ${namespace}, so ${ref} (selector ${show(selector)}) applies to nothing: deploy the workload, or render with --namespace set to where it runs`
            : `no pod in ${namespace} matches the selector ${show(selector)} of ${ref} (${pods.length} pods there${seen.length ? `, app labels: ${seen.join(', ')}` : ''}): render with --workload or --selector set to the workload's labels`,
        );
      }
    }

    const secret = pullSecretOf(object);
    if (secret && once(`secret ${namespace}/${secret}`) && !(await api.get(secretType, namespace, secret)))
      report.hints.push(
        `image pull secret ${secret} does not exist in ${namespace}, so the module cannot be pulled: create it there (a kubernetes.io/dockerconfigjson Secret) or render with --pull-secret naming one that exists`,
      );
  }
  return report;
}

export function formatStatus(report: StatusReport): string {
  const lines: string[] = [];
  for (const object of report.objects) {
    lines.push(
      `${object.ref} -n ${object.namespace}${object.instance ? ` (instance ${object.instance})` : ''}`,
    );
    if (object.conditions.length === 0) lines.push('  no conditions (no controller has written status yet)');
    for (const c of object.conditions)
      lines.push(
        `  ${c.ancestor ? `${c.ancestor} ` : ''}${c.type}=${c.status}${c.reason ? ` ${c.reason}` : ''}${c.message ? `: ${c.message}` : ''}`,
      );
  }
  for (const hint of report.hints) lines.push(`hint: ${hint}`);
  if (report.hints.length === 0)
    lines.push(
      'ok: callout Service and port exist, selectors match pods, pull secrets exist, no condition is False',
    );
  return `${lines.join('\n')}\n`;
}
