import http, { type IncomingHttpHeaders } from 'node:http';
import https from 'node:https';
import type { CredentialLookup } from './credentials.js';
import { sha256Digest } from './digest.js';
import { OciError } from './errors.js';
import { MANIFEST_ACCEPT } from './media-types.js';
import { printable } from './printable.js';
import { registryApiHost } from './reference.js';
import type { ImageBlob } from './image.js';

/**
 * A client for the parts of the OCI distribution API that pushing and pinning a Wasm image need:
 * the /v2/ ping, blob HEAD / monolithic upload (POST then PUT) / GET, manifest PUT / HEAD / GET /
 * DELETE. Authentication follows the registry's own challenge: Basic, or the Bearer token flow
 * (`WWW-Authenticate: Bearer realm=…,service=…,scope=…`, then a token from the realm). Plain HTTP
 * is used only when the caller says `insecure`; credentials are never sent to a plain-HTTP token
 * service otherwise, and are never put in an error message (only their source is).
 */

export type Actions = 'pull' | 'pull,push';

export interface RegistryClientOptions {
  /** Registry as named in the image reference (host[:port]; `docker.io` for Docker Hub). */
  registry: string;
  /** Use plain HTTP (and allow a plain-HTTP token service). */
  insecure?: boolean;
  /** Looked up lazily, the first time the registry asks for credentials. */
  credentials?: () => Promise<CredentialLookup>;
  /** Idle timeout of each request (no byte for this long). */
  timeoutMs?: number;
  /**
   * Overall deadline, from the client's creation, for everything it does (pings, tokens, every
   * request and every byte of every answer). One client serves one push or one pin.
   */
  deadlineMs?: number;
}

/** Registries refuse manifests over 4 MiB (distribution's and most hosted registries' limit). */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
/** Default overall deadline of a push or a pin, in seconds (--registry-timeout). */
export const DEFAULT_REGISTRY_TIMEOUT_S = 60;
/** Of an error answer only this much is read: enough for any distribution error document. */
const MAX_ERROR_BODY_BYTES = 64 * 1024;
/** Blobs read without a known size: Istio's agent refuses modules over 256 MiB. */
const MAX_BLOB_BYTES = 256 * 1024 * 1024;
/** Token service answers are small JSON documents. */
const MAX_TOKEN_BYTES = 1024 * 1024;

interface BodyLimit {
  /** Most bytes a successful answer may have. */
  bytes: number;
  /** What the answer is, for the message: "the manifest of repo:tag". */
  what: string;
  /** EDIGEST when the size is part of the content's address (a blob's descriptor). */
  code?: 'EPROTOCOL' | 'EDIGEST';
}

export interface RemoteManifest {
  digest: string;
  mediaType: string;
  data: Buffer;
}

interface HttpResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

interface RequestOptions {
  repository: string;
  actions: Actions;
  headers?: Record<string, string>;
  body?: Buffer;
  followRedirects?: boolean;
  /** Most bytes a successful answer may have (default: a manifest's limit). */
  limit?: BodyLimit;
}

const USER_AGENT = 'meshwasm';
const NETWORK_HINTS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host lookup failed',
  ETIMEDOUT: 'timed out',
  ECONNRESET: 'connection reset',
  EHOSTUNREACH: 'host unreachable',
};

/** Parses `WWW-Authenticate`; values may be quoted and contain commas. Only the first challenge is used. */
export function parseChallenge(header: string | undefined): Challenge | null {
  if (!header) return null;
  const m = /^\s*([A-Za-z]+)\s*(.*)$/.exec(header);
  if (!m) return null;
  const params: Record<string, string> = {};
  const re = /([A-Za-z_]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g;
  for (let p = re.exec(m[2]); p; p = re.exec(m[2])) {
    params[p[1].toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, '$1') : p[3];
  }
  return { scheme: m[1].toLowerCase(), params };
}

function registryErrors(body: Buffer): string {
  try {
    const parsed = JSON.parse(body.toString('utf8')) as {
      errors?: Array<{ code?: string; message?: string }>;
    };
    const list = (Array.isArray(parsed.errors) ? parsed.errors : [])
      .map((e) => [e?.code, e?.message].filter((part) => typeof part === 'string' && part).join(': '))
      .filter(Boolean);
    if (list.length) return printable(list.join('; '));
  } catch {
    // not a distribution error document
  }
  return printable(body.toString('utf8'));
}

function formatBytes(bytes: number): string {
  return bytes % (1024 * 1024) === 0 ? `${bytes / (1024 * 1024)} MiB` : `${bytes} bytes`;
}

function header(res: HttpResponse, name: string): string | undefined {
  const v = res.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

export class RegistryClient {
  readonly registry: string;
  readonly baseUrl: string;
  private readonly insecure: boolean;
  private readonly timeoutMs: number;
  private readonly deadlineMs: number;
  private readonly deadline: number;
  private readonly lookupCredentials: () => Promise<CredentialLookup>;
  private readonly agents = {
    http: new http.Agent({ keepAlive: true }),
    https: new https.Agent({ keepAlive: true }),
  };
  private credentialLookup?: CredentialLookup;
  private challenge?: Challenge | null;
  private readonly tokens = new Map<string, string>();

  constructor(options: RegistryClientOptions) {
    this.registry = options.registry;
    this.insecure = options.insecure ?? false;
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.deadlineMs = options.deadlineMs ?? DEFAULT_REGISTRY_TIMEOUT_S * 1000;
    this.deadline = Date.now() + this.deadlineMs;
    this.baseUrl = `${this.insecure ? 'http' : 'https'}://${registryApiHost(options.registry)}`;
    this.lookupCredentials = options.credentials ?? (async () => ({ credential: null, consulted: [] }));
  }

  /** Releases keep-alive sockets. */
  close(): void {
    this.agents.http.destroy();
    this.agents.https.destroy();
  }

  private send(
    method: string,
    url: URL,
    headers: Record<string, string>,
    body?: Buffer,
    what = this.registry,
    limit: BodyLimit = { bytes: MAX_MANIFEST_BYTES, what: `the answer to ${method} ${url.pathname}` },
  ): Promise<HttpResponse> {
    const secure = url.protocol === 'https:';
    const lib = secure ? https : http;
    return new Promise((resolvePromise, reject) => {
      const left = this.deadline - Date.now();
      if (left <= 0) {
        reject(this.deadlineError(what, url));
        return;
      }
      let settled = false;
      const fail = (err: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        req.destroy();
        reject(err);
      };
      const req = lib.request(
        url,
        {
          method,
          agent: secure ? this.agents.https : this.agents.http,
          headers: {
            'user-agent': USER_AGENT,
            ...headers,
            ...(body ? { 'content-length': String(body.length) } : {}),
          },
        },
        (res) => {
          const status = res.statusCode ?? 0;
          const ok = status >= 200 && status < 300;
          // An error answer is read only as far as a message needs; a successful one up to its limit.
          const cap = ok ? limit.bytes : MAX_ERROR_BODY_BYTES;
          const tooBig = () =>
            new OciError(
              limit.code ?? 'EPROTOCOL',
              `registry ${this.registry} sent more than ${formatBytes(limit.bytes)} for ${limit.what}; refusing it` +
                (limit.bytes === MAX_MANIFEST_BYTES
                  ? ` (registries cap manifests and indexes at ${formatBytes(MAX_MANIFEST_BYTES)})`
                  : ''),
            );
          const declared = Number(res.headers['content-length']);
          if (ok && method !== 'HEAD' && Number.isFinite(declared) && declared > cap) {
            fail(tooBig());
            return;
          }
          const chunks: Buffer[] = [];
          let size = 0;
          const finish = () => {
            if (settled) return;
            settled = true;
            clearTimeout(timer);
            resolvePromise({ status, headers: res.headers, body: Buffer.concat(chunks) });
          };
          res.on('data', (c: Buffer) => {
            if (settled) return;
            const room = cap - size;
            if (c.length > room) {
              if (ok) {
                fail(tooBig());
                return;
              }
              chunks.push(c.subarray(0, room));
              size = cap;
              finish();
              req.destroy();
              return;
            }
            chunks.push(c);
            size += c.length;
          });
          res.on('end', finish);
          res.on('error', (err: NodeJS.ErrnoException) => fail(this.networkError(err, url, what)));
        },
      );
      const timer = setTimeout(() => fail(this.deadlineError(what, url)), left);
      req.setTimeout(this.timeoutMs, () =>
        fail(this.networkError(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' }), url, what)),
      );
      req.on('error', (err: NodeJS.ErrnoException) => fail(this.networkError(err, url, what)));
      req.end(body);
    });
  }

  private deadlineError(what: string, url: URL): OciError {
    return new OciError(
      'EUNREACHABLE',
      `cannot reach ${what} at ${url.origin}: no complete answer within ${this.deadlineMs / 1000} s ` +
        '(the overall registry deadline; raise it with --registry-timeout SECONDS)',
    );
  }

  private networkError(err: NodeJS.ErrnoException, url: URL, what: string): OciError {
    const tlsFailure = url.protocol === 'https:' && /EPROTO|SSL|TLS/i.test(`${err.code} ${err.message}`);
    const reason = tlsFailure
      ? 'TLS handshake failed'
      : (NETWORK_HINTS[err.code ?? ''] ?? err.message.split('\n')[0]);
    const hint = tlsFailure ? '; if it serves plain HTTP, pass --insecure (only on a network you trust)' : '';
    return new OciError('EUNREACHABLE', `cannot reach ${what} at ${url.origin}: ${reason}${hint}`, {
      cause: err,
    });
  }

  private async credentials(): Promise<CredentialLookup> {
    this.credentialLookup ??= await this.lookupCredentials();
    return this.credentialLookup;
  }

  /** GET /v2/ once, to learn whether and how the registry wants authentication. */
  private async ping(): Promise<Challenge | null> {
    if (this.challenge !== undefined) return this.challenge;
    const res = await this.send('GET', new URL('/v2/', this.baseUrl), {});
    if (res.status === 200) this.challenge = null;
    else if (res.status === 401) this.challenge = parseChallenge(header(res, 'www-authenticate'));
    else if (res.status === 404) {
      throw new OciError('EPROTOCOL', `${this.baseUrl} is not an OCI registry (GET /v2/ answered 404)`);
    } else {
      throw new OciError(
        'EPROTOCOL',
        `registry ${this.registry} answered HTTP ${res.status} to GET /v2/: ${registryErrors(res.body)}`,
      );
    }
    return this.challenge ?? null;
  }

  private async authError(status: number, repository: string, actions: Actions): Promise<OciError> {
    const { credential, consulted } = await this.credentials();
    const verb = actions === 'pull' ? 'pull from' : 'push to';
    if (!credential) {
      const looked = consulted.length ? ` (looked in: ${consulted.join('; ')})` : '';
      return new OciError(
        'EAUTH',
        `registry ${this.registry} requires credentials to ${verb} ${repository} and none were found${looked}; ` +
          'pass --creds USER:PASSWORD or --username with --password-stdin, or log in with docker/podman',
      );
    }
    const what = status === 403 ? 'denied access' : 'rejected the credentials';
    return new OciError(
      'EAUTH',
      `registry ${this.registry} ${what} (HTTP ${status}) to ${verb} ${repository}, using credentials from ${credential.source}`,
    );
  }

  private async bearerToken(
    challenge: Challenge,
    scope: string,
    repository: string,
    actions: Actions,
  ): Promise<string> {
    const cached = this.tokens.get(scope);
    if (cached) return cached;
    const realm = challenge.params.realm;
    if (!realm)
      throw new OciError('EPROTOCOL', `registry ${this.registry} sent a Bearer challenge without a realm`);
    let url: URL;
    try {
      url = new URL(realm);
    } catch {
      throw new OciError(
        'EPROTOCOL',
        `registry ${this.registry} sent a Bearer challenge with a bad realm "${printable(realm)}"`,
      );
    }
    if (url.protocol !== 'https:' && !this.insecure) {
      throw new OciError(
        'EAUTH',
        `registry ${this.registry} sends credentials to a plain-HTTP token service (${url.origin}); pass --insecure to allow it`,
      );
    }
    if (challenge.params.service) url.searchParams.set('service', challenge.params.service);
    url.searchParams.set('scope', scope);
    const { credential } = await this.credentials();
    const headers: Record<string, string> = {};
    if (credential)
      headers.authorization = `Basic ${Buffer.from(`${credential.username}:${credential.password}`).toString('base64')}`;
    const res = await this.send('GET', url, headers, undefined, `the token service of ${this.registry}`, {
      bytes: MAX_TOKEN_BYTES,
      what: 'a token',
    });
    if (res.status === 401 || res.status === 403) throw await this.authError(res.status, repository, actions);
    let token: string | undefined;
    try {
      const parsed = JSON.parse(res.body.toString('utf8')) as { token?: string; access_token?: string };
      token = parsed.token ?? parsed.access_token;
    } catch {
      // handled below
    }
    if (res.status !== 200 || !token) {
      throw new OciError(
        'EPROTOCOL',
        `the token service of ${this.registry} (${url.origin}) answered HTTP ${res.status} without a token`,
      );
    }
    this.tokens.set(scope, token);
    return token;
  }

  private async authorization(
    challenge: Challenge,
    repository: string,
    actions: Actions,
    scope: string,
  ): Promise<string | undefined> {
    if (challenge.scheme === 'basic') {
      const { credential } = await this.credentials();
      if (!credential) return undefined;
      return `Basic ${Buffer.from(`${credential.username}:${credential.password}`).toString('base64')}`;
    }
    if (challenge.scheme === 'bearer')
      return `Bearer ${await this.bearerToken(challenge, scope, repository, actions)}`;
    throw new OciError(
      'EPROTOCOL',
      `registry ${this.registry} asks for unsupported authentication "${printable(challenge.scheme)}"`,
    );
  }

  /** One API call with authentication; retries once on a fresh challenge (e.g. a Bearer token with too small a scope). */
  private async request(method: string, path: string, options: RequestOptions): Promise<HttpResponse> {
    const { repository, actions } = options;
    const ourScope = `repository:${repository}:${actions}`;
    const challenge = await this.ping();
    const auth = challenge ? await this.authorization(challenge, repository, actions, ourScope) : undefined;
    const url = new URL(path, this.baseUrl);
    let res = await this.exchange(method, url, options, auth);
    if (res.status === 401) {
      const fresh = parseChallenge(header(res, 'www-authenticate'));
      // Basic credentials that were already sent and refused will not work a second time.
      if (fresh && !(auth && fresh.scheme === 'basic')) {
        const scope = fresh.params.scope || ourScope;
        this.tokens.delete(scope);
        const retryAuth = await this.authorization(fresh, repository, actions, scope);
        if (retryAuth !== undefined) res = await this.exchange(method, url, options, retryAuth);
      }
    }
    if (res.status === 401 || res.status === 403) throw await this.authError(res.status, repository, actions);
    return res;
  }

  private async exchange(
    method: string,
    url: URL,
    options: RequestOptions,
    auth: string | undefined,
  ): Promise<HttpResponse> {
    // Upload locations and blob redirects (object storage) may point elsewhere: the registry's
    // credentials are only ever sent to the registry's own origin.
    const registryOrigin = new URL(this.baseUrl).origin;
    const headersFor = (target: URL) =>
      auth && target.origin === registryOrigin
        ? { ...options.headers, authorization: auth }
        : { ...options.headers };
    let res = await this.send(method, url, headersFor(url), options.body, this.registry, options.limit);
    for (
      let hops = 0;
      options.followRedirects && [301, 302, 303, 307, 308].includes(res.status) && hops < 5;
      hops++
    ) {
      const location = header(res, 'location');
      if (!location) break;
      const next = new URL(location, url);
      if (next.protocol !== 'https:' && !this.insecure) {
        throw new OciError(
          'EPROTOCOL',
          `registry ${this.registry} redirected to plain HTTP (${next.origin}); pass --insecure to allow it`,
        );
      }
      res = await this.send(method, next, headersFor(next), undefined, printable(next.host), options.limit);
      url = next;
    }
    return res;
  }

  private unexpected(
    res: HttpResponse,
    what: string,
    code: 'EPROTOCOL' | 'EREJECTED' = 'EPROTOCOL',
  ): OciError {
    const details = registryErrors(res.body);
    return new OciError(
      code,
      `registry ${this.registry} answered HTTP ${res.status} to ${what}${details ? `: ${details}` : ''}`,
    );
  }

  async blobExists(repository: string, digest: string, actions: Actions = 'pull'): Promise<boolean> {
    const res = await this.request('HEAD', `/v2/${repository}/blobs/${digest}`, {
      repository,
      actions,
      followRedirects: true,
    });
    if (res.status === 200) return true;
    if (res.status === 404) return false;
    throw this.unexpected(res, `HEAD blob ${digest}`);
  }

  /** Monolithic upload: POST opens a session, one PUT with ?digest= closes it. */
  async uploadBlob(repository: string, blob: ImageBlob): Promise<void> {
    const { digest } = blob.descriptor;
    const start = await this.request('POST', `/v2/${repository}/blobs/uploads/`, {
      repository,
      actions: 'pull,push',
    });
    if (start.status !== 202) throw this.unexpected(start, `starting the upload of ${digest}`, 'EREJECTED');
    const location = header(start, 'location');
    if (!location)
      throw new OciError('EPROTOCOL', `registry ${this.registry} opened an upload without a Location header`);
    const url = new URL(location, this.baseUrl);
    url.searchParams.set('digest', digest);
    const put = await this.request('PUT', url.href, {
      repository,
      actions: 'pull,push',
      headers: { 'content-type': 'application/octet-stream' },
      body: blob.data,
    });
    if (put.status !== 201) throw this.unexpected(put, `uploading blob ${digest}`, 'EREJECTED');
  }

  /** PUT a manifest under a tag or digest; returns the digest the registry reports (if it does). */
  async putManifest(repository: string, reference: string, manifest: ImageBlob): Promise<string | undefined> {
    const res = await this.request('PUT', `/v2/${repository}/manifests/${reference}`, {
      repository,
      actions: 'pull,push',
      headers: { 'content-type': manifest.descriptor.mediaType },
      body: manifest.data,
    });
    if (res.status !== 201 && res.status !== 200)
      throw this.unexpected(res, `the manifest for ${repository}:${reference}`, 'EREJECTED');
    return header(res, 'docker-content-digest');
  }

  /** Digest of a tag without downloading the manifest (null if the tag does not exist). */
  async headManifest(
    repository: string,
    reference: string,
    actions: Actions = 'pull',
  ): Promise<{ digest?: string; mediaType?: string } | null> {
    const res = await this.request('HEAD', `/v2/${repository}/manifests/${reference}`, {
      repository,
      actions,
      headers: { accept: MANIFEST_ACCEPT },
    });
    if (res.status === 404) return null;
    if (res.status !== 200) throw this.unexpected(res, `HEAD manifest ${repository}:${reference}`);
    return { digest: header(res, 'docker-content-digest'), mediaType: header(res, 'content-type') };
  }

  /** The manifest bytes; its digest is computed locally (never trusted from a header). */
  async getManifest(
    repository: string,
    reference: string,
    actions: Actions = 'pull',
  ): Promise<RemoteManifest> {
    const res = await this.request('GET', `/v2/${repository}/manifests/${reference}`, {
      repository,
      actions,
      headers: { accept: MANIFEST_ACCEPT },
      limit: { bytes: MAX_MANIFEST_BYTES, what: `the manifest of ${repository}:${reference}` },
    });
    if (res.status === 404)
      throw new OciError(
        'ENOTFOUND',
        `${this.registry}/${repository}:${reference} not found in the registry`,
      );
    if (res.status !== 200) throw this.unexpected(res, `GET manifest ${repository}:${reference}`);
    const digest = sha256Digest(res.body);
    if (reference.startsWith('sha256:') && digest !== reference) {
      throw new OciError(
        'EDIGEST',
        `registry ${this.registry} returned a manifest hashing to ${digest} when asked for ${reference}`,
      );
    }
    // A registry that names one digest and sends bytes with another is not believed either way.
    const reported = header(res, 'docker-content-digest');
    if (reported !== undefined && reported !== digest) {
      throw new OciError(
        'EDIGEST',
        `registry ${this.registry} says ${repository}:${reference} is ${printable(reported)}, but the manifest it sent hashes to ${digest}; not trusting either`,
      );
    }
    return { digest, mediaType: printable(header(res, 'content-type') ?? ''), data: res.body };
  }

  /** A blob, read up to `size` bytes (its descriptor's size): more is refused, not buffered. */
  async getBlob(
    repository: string,
    digest: string,
    actions: Actions = 'pull',
    size?: number,
  ): Promise<Buffer> {
    const res = await this.request('GET', `/v2/${repository}/blobs/${digest}`, {
      repository,
      actions,
      followRedirects: true,
      limit:
        size === undefined
          ? { bytes: MAX_BLOB_BYTES, what: `blob ${digest}` }
          : {
              bytes: size,
              what: `blob ${digest}, which its descriptor says is ${size} bytes`,
              code: 'EDIGEST',
            },
    });
    if (res.status === 404)
      throw new OciError('ENOTFOUND', `blob ${digest} not found in ${this.registry}/${repository}`);
    if (res.status !== 200) throw this.unexpected(res, `GET blob ${digest}`);
    return res.body;
  }

  /** Best effort; many registries disable deletion. Returns whether the registry accepted it. */
  async deleteManifest(repository: string, digest: string): Promise<boolean> {
    const res = await this.request('DELETE', `/v2/${repository}/manifests/${digest}`, {
      repository,
      actions: 'pull,push',
    });
    return res.status === 202 || res.status === 200;
  }
}
