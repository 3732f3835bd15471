import { UsageError } from '../../renderers/errors.js';

/**
 * `meshwasm dev`'s own addresses: --listen HOST:PORT, --upstream URL, --cluster NAME=URL. Each one
 * is checked up front with a one-line UsageError naming the flag, and a URL is only ever echoed
 * with its credentials replaced by *** (a user may paste http://user:pass@… by habit).
 *
 * What a URL may be: http://HOST[:PORT] with nothing after the authority (both engines route to an
 * address, not to a path), and no credentials (neither engine would send them: Envoy clusters and
 * the Node host's callouts only know host and port). HOST may be any IP or host name, loopback or
 * not: `dev` is run by its user on their machine, like Envoy with a static cluster; the callout
 * carries only the headers the filter configuration propagates (never authorization, cookie or
 * proxy-authorization unless listed).
 */

export const DEFAULT_LISTEN = '127.0.0.1:10000';
/** back-golang and back-python of the reference scenario, on loopback. */
export const DEFAULT_UPSTREAM = 'http://127.0.0.1:8442';
export const DEFAULT_CALLOUT = 'http://127.0.0.1:8444';

/** `url` with any user:password replaced by ***, for messages. Works on strings that do not parse. */
export function redactUrl(url: string): string {
  return url.replace(/^([a-zA-Z][a-zA-Z0-9+.-]*:\/\/)[^/?#]*@/, '$1***@');
}

/** A checked http://HOST:PORT URL (origin only). */
export function parseServiceUrl(value: string, flag: string, example: string): URL {
  const shown = redactUrl(value);
  if (!/^[a-zA-Z][a-zA-Z0-9+.-]*:\/\//.test(value))
    throw new UsageError(`${flag}: '${shown}' has no scheme; write it as ${example}`);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new UsageError(`${flag}: '${shown}' is not a valid URL; write it as ${example}`);
  }
  if (url.protocol !== 'http:')
    throw new UsageError(
      `${flag}: '${shown}' is ${url.protocol}//; only http:// is supported, e.g. ${example}`,
    );
  if (url.username || url.password)
    throw new UsageError(
      `${flag}: '${shown}' carries credentials, which neither engine sends; give only http://HOST:PORT`,
    );
  if ((url.pathname !== '/' && url.pathname !== '') || url.search || url.hash)
    throw new UsageError(`${flag}: '${shown}' has a path; give only http://HOST:PORT, e.g. ${example}`);
  return url;
}

export function parseListen(value: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(value);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535)
    throw new UsageError(
      `--listen: '${value}' is not HOST:PORT; e.g. --listen 127.0.0.1:10000 (port 0 = any free port)`,
    );
  return { host: m[1] ?? m[2]!, port };
}

export function parseClusters(entries: readonly string[]): Record<string, string> {
  const clusters: Record<string, string> = {};
  for (const entry of entries) {
    const eq = entry.indexOf('=');
    if (eq <= 0)
      throw new UsageError(
        `--cluster: '${redactUrl(entry)}' is not NAME=URL; e.g. --cluster 'outbound|8444||back-python.jump-app-dev.svc.cluster.local=http://127.0.0.1:8444'`,
      );
    const name = entry.slice(0, eq);
    const url = parseServiceUrl(entry.slice(eq + 1), `--cluster ${name}`, 'http://127.0.0.1:8444');
    clusters[name] = url.origin;
  }
  return clusters;
}
