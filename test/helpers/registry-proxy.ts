import http, { type IncomingMessage } from 'node:http';

/**
 * A loopback HTTP proxy in front of the real test registry that can misbehave on purpose:
 * answer a request itself, or rewrite the registry's response. It is how the tests produce
 * faults a healthy registry never shows (a rejected manifest, a manifest or blob that changes
 * on the way back) while everything else still goes to docker-registry.
 */
export interface ProxiedResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

export interface ProxyRules {
  /** Return a response to send it instead of forwarding the request. */
  intercept?: (req: IncomingMessage) => ProxiedResponse | undefined;
  /** Rewrite what the registry answered. */
  rewrite?: (req: IncomingMessage, res: ProxiedResponse) => ProxiedResponse;
}

export interface RegistryProxy {
  host: string;
  rules: ProxyRules;
  close(): Promise<void>;
}

export async function startProxy(target: string, rules: ProxyRules = {}): Promise<RegistryProxy> {
  const proxy: Partial<RegistryProxy> = { rules };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const send = (r: ProxiedResponse) => {
        const headers = { ...r.headers };
        delete headers['transfer-encoding'];
        headers['content-length'] = String(r.body.length);
        res.writeHead(r.status, headers).end(req.method === 'HEAD' ? undefined : r.body);
      };
      const canned = proxy.rules?.intercept?.(req);
      if (canned) return send(canned);
      const upstream = http.request(
        `http://${target}${req.url}`,
        { method: req.method, headers: { ...req.headers, host: target } },
        (up) => {
          const body: Buffer[] = [];
          up.on('data', (c: Buffer) => body.push(c));
          up.on('end', () => {
            let answer: ProxiedResponse = {
              status: up.statusCode ?? 502,
              headers: up.headers,
              body: Buffer.concat(body),
            };
            if (proxy.rules?.rewrite) answer = proxy.rules.rewrite(req, answer);
            // Location headers must keep pointing at the proxy.
            if (typeof answer.headers.location === 'string') {
              answer.headers.location = answer.headers.location.replace(`http://${target}`, '');
            }
            send(answer);
          });
        },
      );
      upstream.on('error', () => res.writeHead(502).end());
      upstream.end(Buffer.concat(chunks));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  proxy.host = `127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  proxy.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return proxy as RegistryProxy;
}
