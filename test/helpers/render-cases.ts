// The golden matrix: each target × shape × mesh version meshwasm supports, plus the module-source
// and failure-policy variants that change the output. test/golden/<name>.yaml holds the expected
// bytes; MESHWASM_UPDATE_GOLDENS=1 npx tap test/render-golden.test.ts rewrites them.

export interface GoldenCase {
  name: string;
  args: string[];
  /** Mesh version the output is for (picks the CRD to validate against). */
  mesh: string;
}

const DIGEST = 'sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08';
const WASM_SHA = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

const ossm = (name: string, mesh: string, args: string[] = []): GoldenCase => ({
  name: `ossm/${name}-${mesh}`,
  mesh,
  args: ['--target', 'ossm', '--mesh-version', mesh, ...args],
});
const ef = (name: string, mesh: string, args: string[] = []): GoldenCase => ({
  name: `envoyfilter/${name}-${mesh}`,
  mesh,
  args: ['--target', 'envoyfilter', '--mesh-version', mesh, ...args],
});
const eg = (name: string, args: string[] = []): GoldenCase => ({
  name: `envoy-gateway/${name}-eg-1.9`,
  mesh: 'eg-1.9',
  args: ['--target', 'envoy-gateway', ...args],
});

const gatewayApi = ['--shape', 'gateway-api', '--gateway', 'ingress'];

export const GOLDEN_CASES: GoldenCase[] = [
  { name: 'default', mesh: 'ossm-3.2', args: [] },
  ossm('sidecar', 'ossm-2.5'),
  ossm('sidecar-fail-open', 'ossm-2.6', ['--fail-open']),
  ossm('sidecar', 'ossm-3.0'),
  ossm('sidecar-fail-reload', 'ossm-3.2', ['--fail-reload']),
  ossm('sidecar-url', 'istio-1.22', [
    '--url',
    'https://wasm.example.com/meshwasm/plugin.wasm',
    '--sha256',
    WASM_SHA,
    '--phase',
    'AUTHZ',
    '--priority',
    '10',
  ]),
  ossm('sidecar-file', 'istio-1.30', ['--file', '/var/local/wasm/plugin.wasm']),
  ossm('sidecar-pinned', 'ossm-3.4', [
    '--image',
    `oci://quay.io/meshwasm/callout-filter:0.1.0@${DIGEST}`,
    '--pull-secret',
    'quay-pull',
    '--pull-policy',
    'Always',
  ]),
  ossm('gateway', 'ossm-2.5', [
    '--shape',
    'gateway',
    '--namespace',
    'istio-system',
    '--callout-namespace',
    'jump-app-dev',
  ]),
  ossm('gateway', 'ossm-3.2', [
    '--shape',
    'gateway',
    '--namespace',
    'istio-system',
    '--callout-namespace',
    'jump-app-dev',
  ]),
  // The classic ingress gateway with no flags but the shape: resources in istio-system, callout to jump-app-dev.
  ossm('gateway-default', 'istio-1.30', ['--shape', 'gateway']),
  ossm('gateway-api', 'ossm-2.5', gatewayApi),
  ossm('gateway-api', 'ossm-2.6', gatewayApi),
  ossm('gateway-api', 'ossm-3.0', gatewayApi),
  ossm('gateway-api', 'istio-1.30', gatewayApi),
  ossm('waypoint', 'ossm-3.0', ['--shape', 'waypoint']),
  ossm('waypoint', 'ossm-3.1', ['--shape', 'waypoint']),
  ossm('waypoint-gateway-ref', 'istio-1.30', ['--shape', 'waypoint', '--target-ref', 'Gateway/waypoint']),
  ef('sidecar', 'ossm-2.5', ['--fail-open']),
  ef('sidecar', 'ossm-3.2'),
  ef('sidecar-fail-open', 'istio-1.30', ['--fail-open', '--priority', '-10']),
  ef('sidecar-url', 'istio-1.26', [
    '--url',
    'https://wasm.example.com/meshwasm/plugin.wasm',
    '--sha256',
    WASM_SHA,
  ]),
  ef('sidecar-file', 'ossm-2.6', ['--file', '/var/local/wasm/plugin.wasm']),
  ef('gateway', 'ossm-3.0', [
    '--shape',
    'gateway',
    '--namespace',
    'istio-system',
    '--callout-namespace',
    'jump-app-dev',
  ]),
  ef('gateway', 'ossm-3.1', [
    '--shape',
    'gateway',
    '--namespace',
    'istio-system',
    '--callout-namespace',
    'jump-app-dev',
  ]),
  ef('gateway-default', 'istio-1.26', ['--shape', 'gateway']),
  ef('gateway-api', 'istio-1.30', gatewayApi),
  ef('gateway-api', 'ossm-2.6', gatewayApi),
  ef('waypoint', 'ossm-3.0', ['--shape', 'waypoint']),
  ef('waypoint', 'istio-1.30', ['--shape', 'waypoint', '--fail-reload']),
  ef('waypoint', 'istio-1.26', ['--shape', 'waypoint']),
  ossm('waypoint', 'istio-1.26', ['--shape', 'waypoint']),
  ef('sidecar-url-ca', 'istio-1.30', [
    '--url',
    'https://wasm.example.com/meshwasm/plugin.wasm',
    '--sha256',
    WASM_SHA,
    '--module-ca',
    '/etc/meshwasm/module-ca.pem',
  ]),
  eg('route'),
  eg('gateway-api', [
    '--shape',
    'gateway-api',
    '--gateway',
    'eg',
    '--namespace',
    'envoy-gateway-system',
    '--callout-namespace',
    'jump-app-dev',
  ]),
  eg('route-url-fail-open', [
    '--url',
    'https://wasm.example.com/meshwasm/plugin.wasm',
    '--sha256',
    WASM_SHA,
    '--fail-open',
    '--gateway-namespace',
    'envoy-gateway-system',
  ]),
  eg('route-existing-cluster', ['--callout-cluster', 'httproute/jump-app-dev/back-python/rule/0']),
  eg('route-merge-backends', ['--eg-merge', 'backends']),
  eg('gateway-api-merge-gateways', [
    '--shape',
    'gateway-api',
    '--gateway',
    'eg',
    '--namespace',
    'envoy-gateway-system',
    '--callout-namespace',
    'jump-app-dev',
    '--eg-merge',
    'gateways',
  ]),
  eg('route-pinned', [
    '--image',
    `oci://quay.io/meshwasm/callout-filter:0.1.0@${DIGEST}`,
    '--pull-secret',
    'quay-pull',
  ]),
];
