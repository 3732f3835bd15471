// Turns the xDS that `egctl x translate --to xds` prints (an Envoy admin ConfigDump per Gateway)
// into a static bootstrap for `envoy --mode validate`: the dynamic clusters, listeners and secrets
// become static ones, each listener's RDS reference becomes its route configuration inline, and
// EDS clusters get their endpoints from the dump. Envoy then instantiates every resource Envoy
// Gateway would have sent over ADS, which is what validation needs to see.

type Obj = Record<string, unknown>;

export interface TranslatedXds {
  clusters: Obj[];
  listeners: Obj[];
  routes: Obj[];
  endpoints: Obj[];
  secrets: Obj[];
}

const DUMP = 'type.googleapis.com/envoy.admin.v3.';

/**
 * egctl prints proto JSON with lowerCamelCase names; these helpers (and the goldens) use the proto
 * field names Envoy documents. Envoy reads either, so renaming changes nothing it validates.
 */
function protoNames(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(protoNames);
  if (!v || typeof v !== 'object') return v;
  return Object.fromEntries(
    Object.entries(v).map(([k, x]) => [
      k.startsWith('@') ? k : k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`),
      protoNames(x),
    ]),
  );
}

/** The resources of one ConfigDump (`configs: [BootstrapConfigDump, ClustersConfigDump, …]`). */
export function resourcesOf(dump: Obj): TranslatedXds {
  const out: TranslatedXds = { clusters: [], listeners: [], routes: [], endpoints: [], secrets: [] };
  for (const config of ((protoNames(dump) as Obj).configs ?? []) as Obj[]) {
    const kind = String(config['@type']).replace(DUMP, '');
    const list = (key: string) => (config[key] ?? []) as Obj[];
    if (kind === 'ClustersConfigDump') {
      out.clusters.push(...list('static_clusters').map((c) => c.cluster as Obj));
      out.clusters.push(...list('dynamic_active_clusters').map((c) => c.cluster as Obj));
    } else if (kind === 'ListenersConfigDump') {
      out.listeners.push(...list('dynamic_listeners').map((l) => (l.active_state as Obj).listener as Obj));
    } else if (kind === 'RoutesConfigDump') {
      out.routes.push(...list('dynamic_route_configs').map((r) => r.route_config as Obj));
    } else if (kind === 'EndpointsConfigDump') {
      out.endpoints.push(...list('dynamic_endpoint_configs').map((e) => e.endpoint_config as Obj));
    } else if (kind === 'SecretsConfigDump') {
      out.secrets.push(...list('dynamic_active_secrets').map((s) => s.secret as Obj));
    }
  }
  // Each resource came wrapped in an Any; a bootstrap field holds the message itself.
  for (const list of Object.values(out) as Obj[][])
    for (const [i, r] of list.entries()) {
      const { '@type': _any, ...message } = r;
      list[i] = message;
    }
  return out;
}

const HCM =
  'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';

export function staticBootstrap(xds: TranslatedXds): Obj {
  const routes = new Map(xds.routes.map((r) => [r.name as string, r]));
  const endpoints = new Map(xds.endpoints.map((e) => [e.cluster_name as string, e]));
  const clusters = xds.clusters.map((cluster) => {
    if (cluster.type !== 'EDS') return cluster;
    const { eds_cluster_config: eds, ...rest } = cluster;
    const name = ((eds as Obj | undefined)?.service_name as string | undefined) ?? (cluster.name as string);
    const assignment = endpoints.get(name) ?? { cluster_name: name, endpoints: [] };
    const hostnames = JSON.stringify(assignment).match(/"address":"[^"]*[a-z][^"]*"/i);
    return { ...rest, type: hostnames ? 'STRICT_DNS' : 'STATIC', load_assignment: assignment };
  });
  const listeners = xds.listeners.map((listener) =>
    mapObjects(listener, (o) => {
      if (o['@type'] !== HCM || !o.rds) return o;
      const { rds, ...rest } = o;
      const name = (rds as Obj).route_config_name as string;
      const routeConfig = routes.get(name);
      if (!routeConfig) throw new Error(`listener ${String(listener.name)}: no route configuration ${name}`);
      return { ...rest, route_config: routeConfig };
    }),
  );
  // Secrets fetched over ADS become the static secrets of the same name.
  const statics = (v: Obj[]) => v.map((x) => mapObjects(x, dropAdsSds));
  return {
    admin: { address: { socket_address: { address: '127.0.0.1', port_value: 0 } } },
    static_resources: { clusters: statics(clusters), listeners: statics(listeners), secrets: xds.secrets },
  };
}

function dropAdsSds(o: Obj): Obj {
  const source = o.sds_config as Obj | undefined;
  if (!source || !('ads' in source)) return o;
  const { sds_config: _ads, ...rest } = o;
  return rest;
}

function mapObjects(value: Obj, fn: (o: Obj) => Obj): Obj {
  const walk = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(walk);
    if (v && typeof v === 'object') {
      const mapped = fn(v as Obj);
      return Object.fromEntries(Object.entries(mapped).map(([k, x]) => [k, walk(x)]));
    }
    return v;
  };
  return walk(value) as Obj;
}
