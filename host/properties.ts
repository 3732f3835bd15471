// proxy_get_property: NUL-separated paths resolved the way Envoy's Context::getProperty does
// (top-level identifier, then map keys), with Envoy's value encoding (strings raw, int64/uint64 as
// 8 bytes little-endian, maps as header pairs). Request attributes that Envoy reads from the request
// headers are only available while Envoy holds the headers (before Continue) or in the access-log
// phase; after that they are NotFound, exactly as in Envoy.

import type { HeaderMap } from './header-map.js';
import { encodePairs } from './pairs.js';
import type { StreamContext } from './stream.js';

export type PropertyValue = Uint8Array | string;

const int64 = (v: bigint | number): Uint8Array => {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigInt64(0, BigInt(v), true);
  return b;
};
const uint64 = (v: bigint | number): Uint8Array => {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt(v), true);
  return b;
};

export interface PluginIdentity {
  rootId: string;
  pluginName: string;
  vmId: string;
}

function splitAddress(a: string): [string, number] {
  const i = a.lastIndexOf(':');
  return i < 0 ? [a, 0] : [a.slice(0, i), Number(a.slice(i + 1)) || 0];
}

function requestValue(s: StreamContext, field: string, rest: string[]): PropertyValue | undefined {
  // activation_request_headers_ = request_headers_ ? request_headers_ : access_log_request_headers_
  const h = s.req.headersRef || s.accessLogPhase ? s.req.headers : null;
  switch (field) {
    case 'path':
      return h?.get(':path');
    case 'url_path': {
      const p = h?.get(':path');
      if (p === undefined) return undefined;
      const q = p.indexOf('?');
      return q < 0 ? p : p.slice(0, q);
    }
    case 'host':
      return h?.get(':authority');
    case 'scheme':
      return h?.get(':scheme');
    case 'method':
      return h?.get(':method');
    case 'referer':
      return h?.get('referer');
    case 'useragent':
      return h?.get('user-agent');
    case 'id':
      return h?.get('x-request-id');
    case 'headers':
      return headersValue(h, rest);
    case 'protocol':
      return s.info.protocol;
    case 'time':
      return int64(s.startTimeNs);
    case 'duration':
      return s.completeTimeNs === undefined ? undefined : int64(s.completeTimeNs - s.startTimeNs);
    case 'size': {
      const cl = h?.get('content-length');
      return int64(cl !== undefined && /^\d+$/.test(cl) ? Number(cl) : s.bytesReceived);
    }
    case 'total_size':
      return int64((h?.byteSize() ?? 0) + s.bytesReceived);
    default:
      return undefined;
  }
}

/** request.headers / response.headers: one header's first value by name, or the whole map as pairs. */
function headersValue(h: HeaderMap | null | undefined, rest: string[]): PropertyValue | undefined {
  if (!h) return undefined;
  if (rest.length === 0) return encodePairs(h.entries());
  return rest.length === 1 ? h.get(rest[0]) : undefined;
}

function responseValue(s: StreamContext, field: string, rest: string[]): PropertyValue | undefined {
  const h = s.resp.headersRef || s.accessLogPhase ? s.resp.headers : null;
  switch (field) {
    case 'code': {
      const st = s.resp.headers?.get(':status');
      return st === undefined ? undefined : int64(Number(st));
    }
    case 'code_details':
      return s.responseCodeDetails;
    case 'flags':
      return int64(0);
    case 'grpc_status': {
      const g = s.resp.trailers?.get('grpc-status') ?? s.resp.headers?.get('grpc-status');
      return g === undefined ? undefined : int64(Number(g));
    }
    case 'headers':
      return headersValue(h, rest);
    case 'trailers': {
      const t = s.resp.trailersRef || s.accessLogPhase ? s.resp.trailers : null;
      return t ? encodePairs(t.entries()) : undefined;
    }
    case 'size':
      return int64(s.bytesSent);
    case 'total_size':
      return int64((s.resp.headers?.byteSize() ?? 0) + s.bytesSent);
    default:
      return undefined;
  }
}

/**
 * Resolves a property path. `stream` is the stream context the call runs in (or undefined on the
 * root/VM context, which has no stream info). Returns undefined for NotFound.
 */
export function resolveProperty(
  path: string,
  plugin: PluginIdentity,
  extra: ReadonlyMap<string, PropertyValue>,
  stream: StreamContext | undefined,
): PropertyValue | undefined {
  const own = extra.get(path);
  if (own !== undefined) return own;
  const parts = path.split('\0');
  if (parts.length > 1 && parts[parts.length - 1] === '') parts.pop();
  const top = parts.shift()!;
  switch (top) {
    case 'plugin_root_id':
      return parts.length === 0 ? plugin.rootId : undefined;
    case 'plugin_name':
      return parts.length === 0 ? plugin.pluginName : undefined;
    case 'plugin_vm_id':
      return parts.length === 0 ? plugin.vmId : undefined;
    default:
      break;
  }
  if (!stream) return undefined;
  const field = parts.shift();
  switch (top) {
    case 'connection_id':
      return field === undefined ? uint64(stream.connectionId) : undefined;
    case 'request':
      return field === undefined ? undefined : requestValue(stream, field, parts);
    case 'response':
      return field === undefined ? undefined : responseValue(stream, field, parts);
    case 'source':
    case 'destination': {
      const [addr, port] = splitAddress(top === 'source' ? stream.info.source : stream.info.destination);
      if (field === 'address') return `${addr}:${port}`;
      if (field === 'port') return int64(port);
      return undefined;
    }
    case 'connection':
      if (field === 'id') return uint64(stream.connectionId);
      if (field === 'mtls') return new Uint8Array([0]);
      return undefined;
    default:
      return undefined;
  }
}
