import type { Json } from './yaml-encode.js';

/**
 * An Envoy cluster (envoy.config.cluster.v3.Cluster, snake_case JSON) that resolves a host by DNS.
 * Used where meshwasm must create the cluster a proxy calls: the callout cluster on Envoy Gateway
 * (EnvoyPatchPolicy) and on old-Istio waypoints (EnvoyFilter CLUSTER ADD), and the module host of an
 * EnvoyFilter `code.remote`. Shape follows the Istio/Kuadrant examples in mesh-targets.md §d, §f.
 */
export function strictDnsCluster(
  name: string,
  host: string,
  port: number,
  options: { tls?: boolean } = {},
): Record<string, Json> {
  const cluster: Record<string, Json> = {
    name,
    type: 'STRICT_DNS',
    connect_timeout: '1s',
    lb_policy: 'ROUND_ROBIN',
    load_assignment: {
      cluster_name: name,
      endpoints: [
        {
          lb_endpoints: [{ endpoint: { address: { socket_address: { address: host, port_value: port } } } }],
        },
      ],
    },
  };
  if (options.tls) {
    // TLS with SNI for an https module host. No certificate validation context: the module's
    // sha256 (mandatory for code.remote) is what authenticates the bytes.
    cluster.transport_socket = {
      name: 'envoy.transport_sockets.tls',
      typed_config: {
        '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
        sni: host,
      },
    };
  }
  return cluster;
}
