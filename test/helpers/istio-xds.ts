// Runs test/istio's meshwasm-xds (istiod's own translation, built by scripts/components/istio-xds.sh)
// over a render plus the fixture cluster, and reads where Istio put the Wasm filter: which proxy,
// listener and filter chain, before the router or not, with which configuration, and whether the
// callout cluster exists on that proxy.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { ROOT } from './render-run.js';

export const FIXTURES = join(ROOT, 'test', 'fixtures', 'istio');

/**
 * The Istio versions the component builds (one binary each), the mesh version each renders for, and
 * the Gateway API version its controllers watch. A real API server serves a Gateway at every version
 * its CRD declares; the fake Kubernetes client of Istio's tests stores an object only under the
 * version it was written with, so the fixture's Gateway API objects are written at the version that
 * Istio release reads (1.26 reads v1beta1, later ones v1).
 */
export const ISTIO_VERSIONS = [
  // istio.io/istio master after release-1.30 (VERSION 1.31): stands in for 1.30.x, whose release
  // commits the Go module proxy does not serve.
  {
    label: 'current',
    binary: 'meshwasm-xds-current',
    mesh: 'istio-1.30',
    proxyVersion: '1.31.0',
    gatewayApi: 'v1',
  },
  // Tag 1.26.0: before EnvoyFilter targetRefs matching changed in 1.27.0.
  {
    label: '1.26',
    binary: 'meshwasm-xds-1.26',
    mesh: 'istio-1.26',
    proxyVersion: '1.26.0',
    gatewayApi: 'v1beta1',
  },
] as const;

export type IstioVersion = (typeof ISTIO_VERSIONS)[number];

/** The fixture cluster with its Gateway API objects at the version `istio` reads. */
export function fixtureCluster(istio: IstioVersion): string {
  const yaml = readFileSync(join(FIXTURES, 'cluster.yaml'), 'utf8');
  return yaml.replace(
    /^apiVersion: gateway\.networking\.k8s\.io\/v1$/gm,
    `apiVersion: gateway.networking.k8s.io/${istio.gatewayApi}`,
  );
}

const WASM_SHA = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
/** The three module sources a render can name. */
const SOURCES = {
  oci: [],
  url: ['--url', 'https://wasm.example.com/meshwasm/plugin.wasm', '--sha256', WASM_SHA],
  file: ['--file', '/var/local/wasm/plugin.wasm'],
} as const;
/** Every Istio shape, for the fixture cluster's workloads and gateways. */
const SHAPES = {
  sidecar: [],
  gateway: ['--shape', 'gateway'],
  'gateway-api': ['--shape', 'gateway-api', '--gateway', 'ingress'],
  waypoint: ['--shape', 'waypoint'],
} as const;
export type ShapeName = keyof typeof SHAPES;

export interface RenderCase {
  target: 'ossm' | 'envoyfilter';
  shape: ShapeName;
  source: keyof typeof SOURCES;
  /** `meshwasm render` arguments. */
  args: string[];
}

/** Every `ossm` and `envoyfilter` render (each shape, each module source) for one Istio version. */
export function renderCases(istio: IstioVersion): RenderCase[] {
  const cases: RenderCase[] = [];
  for (const target of ['ossm', 'envoyfilter'] as const) {
    for (const [shape, shapeArgs] of Object.entries(SHAPES) as [ShapeName, readonly string[]][]) {
      for (const [source, sourceArgs] of Object.entries(SOURCES) as [
        keyof typeof SOURCES,
        readonly string[],
      ][]) {
        cases.push({
          target,
          shape,
          source,
          args: ['--target', target, '--mesh-version', istio.mesh, ...shapeArgs, ...sourceArgs],
        });
      }
    }
  }
  return cases;
}

type Json = Record<string, unknown>;

export interface ProxyXds {
  listeners: Json[];
  clusters: Json[];
  ecds: Json[];
}

/** One HTTP filter of ours (root_id meshwasm) as Istio placed it. */
export interface Placement {
  listener: string;
  chain: string;
  filter: string;
  beforeRouter: boolean;
  /** Where the Wasm config came from: inline typed_config, or the ECDS resource of that name. */
  via: 'inline' | 'ecds';
  wasm: Json;
}

export function runXds(binary: string, istio: IstioVersion, manifest: string): Record<string, ProxyXds> {
  const dir = mkdtempSync(join(tmpdir(), 'meshwasm-xds-'));
  try {
    const render = join(dir, 'render.yaml');
    const cluster = join(dir, 'cluster.yaml');
    writeFileSync(render, manifest);
    writeFileSync(cluster, fixtureCluster(istio));
    const run = spawnSync(
      binary,
      ['-proxies', join(FIXTURES, 'proxies.json'), '-proxy-version', istio.proxyVersion, cluster, render],
      {
        encoding: 'utf8',
        maxBuffer: 256 * 1024 * 1024,
        // Waypoints exist only with ambient on; Istio reads its feature flags from the environment
        // when its packages initialise, as istiod does (the ambient profile sets this one).
        env: { ...process.env, PILOT_ENABLE_AMBIENT: 'true' },
      },
    );
    if (run.status !== 0) throw new Error(`meshwasm-xds exited ${run.status}: ${run.stderr}`);
    const proxies = (JSON.parse(run.stdout) as { proxies: Record<string, Partial<ProxyXds>> }).proxies;
    // Go encodes an empty list as null.
    return Object.fromEntries(
      Object.entries(proxies).map(([name, p]) => [
        name,
        { listeners: p.listeners ?? [], clusters: p.clusters ?? [], ecds: p.ecds ?? [] },
      ]),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const HCM = 'envoy.filters.network.http_connection_manager';
const WASM = 'type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm';

function chainsOf(listener: Json): Json[] {
  const chains = (listener.filterChains as Json[] | undefined) ?? [];
  const fallback = listener.defaultFilterChain as Json | undefined;
  return fallback ? [...chains, { name: 'default', ...fallback }] : chains;
}

/** Every HTTP filter whose Wasm config has root_id meshwasm, on every listener and chain of the proxy. */
export function placements(proxy: ProxyXds): Placement[] {
  const ecds = new Map(proxy.ecds.map((e) => [e.name as string, e.typedConfig as Json]));
  const found: Placement[] = [];
  for (const listener of proxy.listeners) {
    for (const chain of chainsOf(listener)) {
      for (const network of (chain.filters as Json[] | undefined) ?? []) {
        if (network.name !== HCM) continue;
        const httpFilters = ((network.typedConfig as Json).httpFilters as Json[] | undefined) ?? [];
        const router = httpFilters.findIndex((f) => f.name === 'envoy.filters.http.router');
        httpFilters.forEach((f, i) => {
          const inline = f.typedConfig as Json | undefined;
          const typed = inline ?? ecds.get(f.name as string);
          if (!typed || typed['@type'] !== WASM) return;
          const wasm = (typed.config as Json | undefined) ?? {};
          if (wasm.rootId !== 'meshwasm') return;
          found.push({
            listener: listener.name as string,
            chain: (chain.name as string | undefined) ?? '',
            filter: f.name as string,
            beforeRouter: router > i,
            via: inline ? 'inline' : 'ecds',
            wasm,
          });
        });
      }
    }
  }
  return found;
}

export function clusterNames(proxy: ProxyXds): string[] {
  return proxy.clusters.map((c) => c.name as string);
}

export function cluster(proxy: ProxyXds, name: string): Json | undefined {
  return proxy.clusters.find((c) => c.name === name);
}

/** The filter configuration a placement carries, parsed (google.protobuf.StringValue of JSON). */
export function filterConfiguration(p: Placement): unknown {
  const configuration = p.wasm.configuration as Json | undefined;
  return JSON.parse(String(configuration?.value ?? 'null'));
}
