// The Gateway API objects an Envoy Gateway needs around meshwasm's render: a GatewayClass (with an
// EnvoyProxy when the class merges gateways or backends, or pins the Envoy version), the Gateway
// `eg`, the HTTPRoute `back-golang` to a Backend for the back-golang stand-in, and an HTTPRoute
// `back-python` to the back-python Service (so that route and Service-backend clusters exist for
// --callout-cluster and --eg-merge backends). Used by the egctl translation test and the standalone
// Envoy Gateway harness.
import { stringify } from 'yaml';

export const CONTROLLER = 'gateway.envoyproxy.io/gatewayclass-controller';
/** Where Envoy Gateway's own objects live (egctl's and the standalone server's default namespace). */
export const EG_NAMESPACE = 'envoy-gateway-system';
export const APP_NAMESPACE = 'jump-app-dev';

export interface Endpoint {
  /** An IP address or a DNS name. */
  address: string;
  port: number;
}

export interface EgFixtureOptions {
  gatewayClass?: string;
  /** Namespace of the Gateway `eg` (the render puts its EnvoyPatchPolicy there). */
  gatewayNamespace: string;
  listenerPort: number;
  backGolang: Endpoint;
  /** The back-python Service's port and, for a host with no Kubernetes, its endpoint. */
  backPython: { port: number; endpoint?: Endpoint };
  merge?: 'gateways' | 'backends';
  /** EnvoyProxy spec.provider for the class (standalone: the host provider and its Envoy version). */
  provider?: Record<string, unknown>;
}

type Obj = Record<string, unknown>;

export function egFixtureObjects(o: EgFixtureOptions): Obj[] {
  const className = o.gatewayClass ?? 'eg';
  const proxySpec: Obj = {};
  if (o.merge === 'gateways') proxySpec.mergeGateways = true;
  if (o.merge === 'backends') proxySpec.mergeBackends = {};
  if (o.provider) proxySpec.provider = o.provider;
  const withProxy = Object.keys(proxySpec).length > 0;
  const objects: Obj[] = [
    {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'GatewayClass',
      metadata: { name: className },
      spec: {
        controllerName: CONTROLLER,
        ...(withProxy
          ? {
              parametersRef: {
                group: 'gateway.envoyproxy.io',
                kind: 'EnvoyProxy',
                name: className,
                namespace: EG_NAMESPACE,
              },
            }
          : {}),
      },
    },
  ];
  if (withProxy) {
    objects.push({
      apiVersion: 'gateway.envoyproxy.io/v1alpha1',
      kind: 'EnvoyProxy',
      metadata: { name: className, namespace: EG_NAMESPACE },
      spec: proxySpec,
    });
  }
  const parentRefs = [{ name: 'eg', namespace: o.gatewayNamespace }];
  objects.push(
    {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'Gateway',
      metadata: { name: 'eg', namespace: o.gatewayNamespace },
      spec: {
        gatewayClassName: className,
        listeners: [
          {
            name: 'http',
            protocol: 'HTTP',
            port: o.listenerPort,
            allowedRoutes: { namespaces: { from: 'All' } },
          },
        ],
      },
    },
    {
      apiVersion: 'gateway.envoyproxy.io/v1alpha1',
      kind: 'Backend',
      metadata: { name: 'back-golang', namespace: APP_NAMESPACE },
      spec: { endpoints: [endpoint(o.backGolang)] },
    },
    {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'HTTPRoute',
      metadata: { name: 'back-golang', namespace: APP_NAMESPACE },
      spec: {
        parentRefs,
        rules: [
          {
            matches: [{ path: { type: 'PathPrefix', value: '/' } }],
            backendRefs: [{ group: 'gateway.envoyproxy.io', kind: 'Backend', name: 'back-golang' }],
          },
        ],
      },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'back-python', namespace: APP_NAMESPACE },
      // egctl routes to a Service's clusterIP (it turns endpoint routing off).
      spec: { clusterIP: '10.96.0.20', ports: [{ name: 'http', port: o.backPython.port, protocol: 'TCP' }] },
    },
    {
      // Only requests with this header reach it: it exists for the clusters it makes.
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'HTTPRoute',
      metadata: { name: 'back-python', namespace: APP_NAMESPACE },
      spec: {
        parentRefs,
        rules: [
          {
            matches: [{ headers: [{ name: 'x-meshwasm-fixture', value: 'back-python' }] }],
            backendRefs: [{ name: 'back-python', port: o.backPython.port }],
          },
        ],
      },
    },
  );
  if (o.backPython.endpoint) {
    // With no Kubernetes, a Service's endpoints come from an EndpointSlice like this one.
    objects.push({
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: {
        name: 'back-python',
        namespace: APP_NAMESPACE,
        labels: { 'kubernetes.io/service-name': 'back-python' },
      },
      addressType: 'IPv4',
      ports: [{ name: 'http', port: o.backPython.endpoint.port, protocol: 'TCP' }],
      endpoints: [{ addresses: [o.backPython.endpoint.address], conditions: { ready: true } }],
    });
  }
  return objects;
}

function endpoint(e: Endpoint): Obj {
  return /^[\d.]+$/.test(e.address)
    ? { ip: { address: e.address, port: e.port } }
    : { fqdn: { hostname: e.address, port: e.port } };
}

export function toYamlStream(objects: Obj[]): string {
  return objects.map((o) => stringify(o)).join('---\n');
}
