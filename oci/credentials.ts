import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { OciError } from './errors.js';

/**
 * Where registry credentials come from, in the order docker/podman users expect: explicit flags,
 * then REGISTRY_AUTH_FILE, podman's auth.json locations, then docker's config.json (inline
 * `auths` entries, `credHelpers` / `credsStore` helpers). Every credential carries a `source`
 * label so an auth failure can say *where* the rejected credentials came from; nothing here ever
 * puts a username or password into a message.
 */
export interface Credential {
  username: string;
  password: string;
  /** Human label of where it came from, safe to print. */
  source: string;
}

export interface CredentialLookup {
  credential: Credential | null;
  /** Every place consulted, safe to print (used when a registry wants credentials we don't have). */
  consulted: string[];
}

export interface CredentialOptions {
  /** `--creds USER:PASSWORD` */
  creds?: string;
  /** `--username` together with a password read from stdin (`--password-stdin`). */
  username?: string;
  password?: string;
  env?: NodeJS.ProcessEnv;
  /** Runs `docker-credential-<name> get`; injectable so tests need no helper binary. */
  runHelper?: (helper: string, serverUrl: string) => Promise<string>;
}

interface AuthEntry {
  auth?: string;
  username?: string;
  password?: string;
  identitytoken?: string;
}

interface AuthFile {
  auths?: Record<string, AuthEntry>;
  credHelpers?: Record<string, string>;
  credsStore?: string;
}

const DOCKER_HUB_KEYS = new Set(['index.docker.io', 'registry-1.docker.io', 'docker.io']);

/** `https://index.docker.io/v1/` → `docker.io`, `http://host:5000/` → `host:5000`, `host/ns/repo` kept. */
function normaliseKey(key: string): string {
  let k = key
    .replace(/^[a-z]+:\/\//i, '')
    .replace(/\/v[12]\/?$/, '')
    .replace(/\/+$/, '');
  const slash = k.indexOf('/');
  const host = slash < 0 ? k : k.slice(0, slash);
  if (DOCKER_HUB_KEYS.has(host)) k = `docker.io${slash < 0 ? '' : k.slice(slash)}`;
  return k;
}

/** Most specific first: `host/a/b`, `host/a`, `host` (podman's repository-scoped entries). */
function candidateKeys(registry: string, repository: string): string[] {
  const parts = repository.split('/');
  const keys: string[] = [];
  for (let n = parts.length; n > 0; n--) keys.push(`${registry}/${parts.slice(0, n).join('/')}`);
  keys.push(registry);
  return keys;
}

export function parseCredsFlag(value: string): { username: string; password: string } {
  const colon = value.indexOf(':');
  if (colon <= 0 || colon === value.length - 1) {
    throw new OciError(
      'EUSAGE',
      '--creds must be USER:PASSWORD (or pass --username and the password on stdin with --password-stdin)',
    );
  }
  return { username: value.slice(0, colon), password: value.slice(colon + 1) };
}

function decodeEntry(entry: AuthEntry, label: string): Credential | 'identitytoken' | null {
  if (entry.auth) {
    const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon <= 0)
      throw new OciError(
        'EAUTH',
        `credentials from ${label} are malformed (auth is not base64 of USER:PASSWORD)`,
      );
    return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1), source: label };
  }
  if (entry.username && entry.password)
    return { username: entry.username, password: entry.password, source: label };
  if (entry.identitytoken) return 'identitytoken';
  return null;
}

function defaultRunHelper(helper: string, serverUrl: string): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const child = execFile(`docker-credential-${helper}`, ['get'], { timeout: 15_000 }, (err, stdout) =>
      err ? reject(err) : resolvePromise(stdout),
    );
    child.stdin?.end(serverUrl);
  });
}

async function readAuthFile(path: string): Promise<AuthFile | null> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new OciError(
      'EAUTH',
      `cannot read credentials file ${path}: ${(err as NodeJS.ErrnoException).code}`,
    );
  }
  try {
    return JSON.parse(text) as AuthFile;
  } catch {
    throw new OciError('EAUTH', `credentials file ${path} is not valid JSON`);
  }
}

function authFiles(env: NodeJS.ProcessEnv): Array<{ path: string; label: string }> {
  const home = env.HOME || homedir();
  const files: Array<{ path: string; label: string }> = [];
  if (env.REGISTRY_AUTH_FILE) {
    files.push({ path: env.REGISTRY_AUTH_FILE, label: `REGISTRY_AUTH_FILE (${env.REGISTRY_AUTH_FILE})` });
  } else {
    if (env.XDG_RUNTIME_DIR) {
      const p = join(env.XDG_RUNTIME_DIR, 'containers', 'auth.json');
      files.push({ path: p, label: p });
    }
    const p = join(home, '.config', 'containers', 'auth.json');
    files.push({ path: p, label: p });
  }
  const docker = join(env.DOCKER_CONFIG || join(home, '.docker'), 'config.json');
  files.push({ path: docker, label: docker });
  return files;
}

/** Finds credentials for `registry` (as in the image reference) and `repository`; null means anonymous. */
export async function resolveCredential(
  registry: string,
  repository: string,
  options: CredentialOptions = {},
): Promise<CredentialLookup> {
  if (options.creds !== undefined) {
    return { credential: { ...parseCredsFlag(options.creds), source: '--creds' }, consulted: ['--creds'] };
  }
  if (options.password !== undefined) {
    if (!options.username) throw new OciError('EUSAGE', '--password-stdin needs --username');
    return {
      credential: {
        username: options.username,
        password: options.password,
        source: '--username/--password-stdin',
      },
      consulted: ['--username/--password-stdin'],
    };
  }

  const env = options.env ?? process.env;
  const runHelper = options.runHelper ?? defaultRunHelper;
  const keys = candidateKeys(registry, repository);
  const consulted: string[] = [];
  for (const file of authFiles(env)) {
    const config = await readAuthFile(file.path);
    if (!config) {
      consulted.push(`${file.label} (not found)`);
      continue;
    }
    const byKey = new Map<string, [string, AuthEntry]>();
    for (const [key, entry] of Object.entries(config.auths ?? {})) byKey.set(normaliseKey(key), [key, entry]);
    for (const key of keys) {
      const found = byKey.get(key);
      if (!found) continue;
      const label = `${file.label} entry "${found[0]}"`;
      const decoded = decodeEntry(found[1], label);
      if (decoded === 'identitytoken') {
        consulted.push(`${label} (holds an OAuth identity token, which meshwasm does not support)`);
        continue;
      }
      if (decoded) return { credential: decoded, consulted: [...consulted, label] };
    }
    const helper = config.credHelpers?.[registry] ?? config.credsStore;
    if (helper) {
      const label = `credential helper docker-credential-${helper} (from ${file.label})`;
      const serverUrl = registry === 'docker.io' ? 'https://index.docker.io/v1/' : registry;
      let out: string;
      try {
        out = await runHelper(helper, serverUrl);
      } catch {
        consulted.push(`${label} (failed or has no entry)`);
        continue;
      }
      let parsed: { Username?: string; Secret?: string };
      try {
        parsed = JSON.parse(out) as { Username?: string; Secret?: string };
      } catch {
        throw new OciError('EAUTH', `${label} printed something that is not JSON`);
      }
      if (parsed.Username && parsed.Secret && parsed.Username !== '<token>') {
        return {
          credential: { username: parsed.Username, password: parsed.Secret, source: label },
          consulted: [...consulted, label],
        };
      }
      consulted.push(`${label} (no usable entry)`);
      continue;
    }
    consulted.push(`${file.label} (no entry for ${registry})`);
  }
  return { credential: null, consulted };
}
