import { isIP } from 'node:net';
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
  options: { tls?: { ca: string } } = {},
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
    // TLS for an https module host, checked the way Envoy's docs for remote data sources advise:
    // the certificate must chain to the CA bundle and name the host. The sha256 (mandatory for
    // code.remote) authenticates the bytes; this keeps the fetch itself from going to an impostor.
    // An IP literal is matched as an IP SAN and sent without SNI (SNI carries host names only).
    const ip = isIP(host) !== 0;
    cluster.transport_socket = {
      name: 'envoy.transport_sockets.tls',
      typed_config: {
        '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
        ...(ip ? {} : { sni: host }),
        common_tls_context: {
          validation_context: {
            trusted_ca: { filename: options.tls.ca },
            match_typed_subject_alt_names: [
              { san_type: ip ? 'IP_ADDRESS' : 'DNS', matcher: { exact: host } },
            ],
          },
        },
      },
    };
  }
  return cluster;
}
