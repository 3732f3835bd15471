import { existsSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';

import { UsageError } from '../renderers/errors.js';
import { ClusterError } from './errors.js';

/**
 * The connection to an API server, configured the way kubectl is: --kubeconfig, else KUBECONFIG
 * (a list of files, merged), else ~/.kube/config, else the in-cluster service account; --context
 * picks a context. @kubernetes/client-node reads the kubeconfig and authenticates (tokens, client
 * certificates, exec plugins, CAs); it is imported here, on demand, so only the commands that talk to
 * a cluster ever load it. Requests go out through node:https with the options it fills in, rather
 * than through its generated API classes, because meshwasm needs what those hide: the
 * fieldValidation parameter, the Warning headers and the API server's Status body on errors.
 */

export interface ConnectOptions {
  kubeconfig?: string;
  context?: string;
  env?: Record<string, string | undefined>;
}

export interface ApiRequest {
  method: 'GET' | 'PATCH' | 'DELETE' | 'POST';
  path: string;
  query?: Record<string, string | undefined>;
  body?: unknown;
  contentType?: string;
}

export interface ApiResponse {
  status: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- Kubernetes objects are free-form JSON
  body: any;
  /** The API server's Warning headers (deprecations, unknown fields in warn mode), text only. */
  warnings: string[];
}

type KubeConfig = import('@kubernetes/client-node').KubeConfig;

export class Connection {
  constructor(
    private readonly config: KubeConfig,
    /** The API server URL, as the kubeconfig names it. */
    readonly server: string,
    readonly context: string,
    readonly user: string,
  ) {}

  async request(request: ApiRequest): Promise<ApiResponse> {
    // The server URL may carry a path prefix (a proxy's); request paths go under it.
    const url = new URL(`${this.server.replace(/\/$/, '')}${request.path}`);
    for (const [key, value] of Object.entries(request.query ?? {}))
      if (value !== undefined) url.searchParams.set(key, value);
    const body = request.body === undefined ? undefined : JSON.stringify(request.body);
    const options: https.RequestOptions = {
      method: request.method,
      headers: {
        Accept: 'application/json',
        ...(body === undefined
          ? {}
          : {
              'Content-Type': request.contentType ?? 'application/json',
              'Content-Length': Buffer.byteLength(body),
            }),
      },
      timeout: 30_000,
    };
    await this.config.applyToHTTPSOptions(options);
    const transport = url.protocol === 'http:' ? http : https;
    return new Promise((resolve, reject) => {
      const req = transport.request(url, options, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown = text;
          try {
            parsed = text === '' ? undefined : JSON.parse(text);
          } catch {
            // Not JSON (a proxy's error page): kept as text for the message.
          }
          resolve({ status: res.statusCode ?? 0, body: parsed, warnings: warningTexts(res.headers.warning) });
        });
        res.on('error', (error) => reject(this.unreachable(error)));
      });
      req.on('timeout', () => req.destroy(new Error('no answer within 30 s')));
      req.on('error', (error) => reject(this.unreachable(error)));
      req.end(body);
    });
  }

  private unreachable(error: Error): ClusterError {
    const code = (error as NodeJS.ErrnoException).code;
    const detail = code && !error.message.includes(code) ? `${code}: ${error.message}` : error.message;
    return new ClusterError(
      `cannot reach the API server at ${this.server} (context ${this.context}): ${detail}; check that it runs and that the kubeconfig points at it`,
    );
  }
}

/** `299 - "text"` (RFC 7234 warn-code warn-agent "warn-text"), one header or several, to the texts. */
export function warningTexts(header: string | string[] | undefined): string[] {
  if (header === undefined) return [];
  const all = Array.isArray(header) ? header : [header];
  return all.flatMap((value) =>
    [...value.matchAll(/\d{3} +\S+ +"((?:[^"\\]|\\.)*)"/g)].map((match) => match[1].replace(/\\(.)/g, '$1')),
  );
}

const SERVICE_ACCOUNT_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

/** Where the kubeconfig comes from, or a UsageError that says how to give one. */
function kubeconfigSource(options: ConnectOptions): { files: string[] } | { inCluster: true } {
  const env = options.env ?? process.env;
  if (options.kubeconfig !== undefined) {
    if (!existsSync(options.kubeconfig))
      throw new UsageError(
        `--kubeconfig: ${options.kubeconfig} does not exist; give the path of a kubeconfig file`,
      );
    return { files: [options.kubeconfig] };
  }
  if (env.KUBECONFIG) {
    const files = env.KUBECONFIG.split(delimiter).filter((file) => file && existsSync(file));
    if (files.length === 0)
      throw new UsageError(
        `KUBECONFIG=${env.KUBECONFIG}: no such file; point KUBECONFIG (or --kubeconfig) at a kubeconfig file`,
      );
    return { files };
  }
  const home = join(env.HOME || homedir(), '.kube', 'config');
  if (existsSync(home)) return { files: [home] };
  if (env.KUBERNETES_SERVICE_HOST && existsSync(SERVICE_ACCOUNT_TOKEN)) return { inCluster: true };
  throw new UsageError(
    'no kubeconfig: set KUBECONFIG or --kubeconfig, or create ~/.kube/config (scripts/local-apiserver.sh start prints one for a local API server)',
  );
}

export async function connect(options: ConnectOptions = {}): Promise<Connection> {
  const source = kubeconfigSource(options);
  const { KubeConfig } = await import('@kubernetes/client-node');
  const config = new KubeConfig();
  try {
    /* c8 ignore next 2 -- needs a pod's service account */
    if ('inCluster' in source) {
      config.loadFromCluster();
    } else {
      // Merged like kubectl: the first file that sets a value wins.
      config.loadFromFile(source.files[0]);
      for (const file of source.files.slice(1)) {
        const more = new KubeConfig();
        more.loadFromFile(file);
        config.mergeConfig(more, true);
      }
    }
  } catch (error) {
    throw new UsageError(
      `kubeconfig: cannot read it (${(error as Error).message.split('\n')[0]}); fix the file`,
    );
  }
  if (options.context !== undefined) {
    if (!config.getContextObject(options.context)) {
      const names = config.getContexts().map((context) => context.name);
      throw new UsageError(
        `--context: no context ${JSON.stringify(options.context)} in the kubeconfig; use one of ${names.join(', ') || '(none)'}`,
      );
    }
    config.setCurrentContext(options.context);
  }
  const cluster = config.getCurrentCluster();
  if (!cluster)
    throw new UsageError(
      `kubeconfig: the current context ${JSON.stringify(config.getCurrentContext())} names no cluster; pick one with --context`,
    );
  return new Connection(
    config,
    cluster.server,
    config.getCurrentContext(),
    config.getCurrentUser()?.name ?? '(none)',
  );
}
