import type { ApiRequest, ApiResponse, Connection } from './connection.js';
import { ClusterError } from './errors.js';

/**
 * Typed-enough access to any kind: discovery maps apiVersion + kind to the REST resource (and says
 * whether the cluster serves it at all), and every API error becomes a ClusterError that names the
 * verb and resource (403), the credentials (401) or the mesh component whose CRDs are missing.
 */

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- Kubernetes objects are free-form JSON
export type KubeObject = Record<string, any>;

export interface ResourceType {
  apiVersion: string;
  group: string;
  kind: string;
  /** The REST resource name, e.g. wasmplugins. */
  plural: string;
  namespaced: boolean;
}

/** Who installs each API group meshwasm uses, for the "missing CRDs" message. */
const COMPONENT_OF_GROUP: Record<string, string> = {
  'extensions.istio.io': 'Istio (OSSM)',
  'networking.istio.io': 'Istio (OSSM)',
  'gateway.envoyproxy.io': 'Envoy Gateway',
  'gateway.networking.k8s.io': 'the Gateway API',
  'maistra.io': 'OSSM 2 (the Maistra operator)',
  'sailoperator.io': 'OSSM 3 (the Sail operator)',
};

export function resourceName(type: Pick<ResourceType, 'plural' | 'group'>): string {
  return type.group ? `${type.plural}.${type.group}` : type.plural;
}

export class Api {
  private readonly discovered = new Map<string, Promise<KubeObject | undefined>>();

  constructor(readonly connection: Connection) {}

  /** The resource for apiVersion + kind, or undefined when the cluster does not serve it. */
  async resourceType(apiVersion: string, kind: string): Promise<ResourceType | undefined> {
    let list = this.discovered.get(apiVersion);
    if (!list) {
      const path = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
      list = this.call({ method: 'GET', path }, 'get', `API group ${apiVersion}`).then((response) =>
        response.status === 404 ? undefined : this.expect(response, 'get', `API group ${apiVersion}`),
      );
      this.discovered.set(apiVersion, list);
      // A group that is not served yet may be soon (a CRD being installed): only answers are cached.
      list.then(
        (found) => found || this.discovered.delete(apiVersion),
        () => this.discovered.delete(apiVersion),
      );
    }
    const resources = ((await list)?.resources ?? []) as KubeObject[];
    const found = resources.find(
      (resource) => resource.kind === kind && !String(resource.name).includes('/'),
    );
    if (!found) return undefined;
    const group = apiVersion.includes('/') ? apiVersion.split('/')[0] : '';
    return { apiVersion, group, kind, plural: found.name, namespaced: Boolean(found.namespaced) };
  }

  /** Like resourceType, but a kind the cluster does not serve is an error naming who installs it. */
  async requireType(apiVersion: string, kind: string): Promise<ResourceType> {
    const type = await this.resourceType(apiVersion, kind);
    if (type) return type;
    const group = apiVersion.includes('/') ? apiVersion.split('/')[0] : '';
    const component = COMPONENT_OF_GROUP[group];
    throw new ClusterError(
      `the API server at ${this.connection.server} does not serve ${kind} (${apiVersion})${component ? `: the CRDs of ${component} are not installed; install ${component} first, or render for the mesh the cluster runs (meshwasm detect)` : '; install the CRD that defines it'}`,
    );
  }

  path(type: ResourceType, namespace?: string, name?: string): string {
    const base = type.group ? `/apis/${type.apiVersion}` : `/api/${type.apiVersion}`;
    const scope = type.namespaced && namespace ? `/namespaces/${encodeURIComponent(namespace)}` : '';
    return `${base}${scope}/${type.plural}${name === undefined ? '' : `/${encodeURIComponent(name)}`}`;
  }

  /** Sends a request; 401 and 403 become ClusterErrors naming `verb` on `what`. */
  async call(request: ApiRequest, verb: string, what: string, namespace?: string): Promise<ApiResponse> {
    let response = await this.connection.request(request);
    // 429 "storage is (re)initializing": a just-installed CRD's cache is still filling; the server
    // says when to retry (Retry-After, usually 1 s). Bounded, so an overloaded server still fails.
    for (let retry = 0; response.status === 429 && retry < 10; retry++) {
      await new Promise((resolve) => setTimeout(resolve, 500));
      response = await this.connection.request(request);
    }
    const { server, context, user } = this.connection;
    if (response.status === 401)
      throw new ClusterError(
        `the API server at ${server} rejected the credentials of user ${user} (context ${context}): 401 Unauthorized; renew them or pick another --context`,
      );
    if (response.status === 403)
      throw new ClusterError(
        `forbidden: user ${user} (context ${context}) may not ${verb} ${what}${namespace ? ` in namespace ${namespace}` : ' cluster-wide'}; ask for RBAC that grants ${verb} on ${what}${namespace ? ` in ${namespace}` : ''}`,
      );
    return response;
  }

  /** The body of a 2xx answer; anything else is a ClusterError with the server's message. */
  expect(response: ApiResponse, verb: string, what: string): KubeObject {
    if (response.status >= 200 && response.status < 300) return response.body as KubeObject;
    throw new ClusterError(`${verb} ${what}: ${statusText(response)}`);
  }

  async get(
    type: ResourceType,
    namespace: string | undefined,
    name: string,
  ): Promise<KubeObject | undefined> {
    const what = `${resourceName(type)} ${name}`;
    const response = await this.call(
      { method: 'GET', path: this.path(type, namespace, name) },
      'get',
      resourceName(type),
      type.namespaced ? namespace : undefined,
    );
    return response.status === 404 ? undefined : this.expect(response, 'get', what);
  }

  /** Every object of a type, in one namespace or cluster-wide, optionally by label selector. */
  async list(
    type: ResourceType,
    options: { namespace?: string; labelSelector?: string } = {},
  ): Promise<KubeObject[]> {
    const response = await this.call(
      {
        method: 'GET',
        path: this.path(type, options.namespace),
        query: { labelSelector: options.labelSelector },
      },
      'list',
      resourceName(type),
      type.namespaced ? options.namespace : undefined,
    );
    return (this.expect(response, 'list', resourceName(type)).items ?? []) as KubeObject[];
  }
}

/** The API server's Status message (or the HTTP status) for an error answer. */
export function statusText(response: ApiResponse): string {
  const body = response.body as KubeObject | string | undefined;
  const message =
    typeof body === 'object' && body ? body.message : typeof body === 'string' ? body.trim() : '';
  return `HTTP ${response.status}${message ? `: ${message}` : ''}`;
}
