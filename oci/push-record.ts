import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { ImageFormat } from './image.js';
import { formatReference, type ImageReference } from './reference.js';

/**
 * A local note of what `meshwasm push` put where, so `render --image REF` can pin a digest
 * without network access to the registry (air-gapped clusters, CI jobs without credentials).
 * Lives in the XDG state directory; written atomically, and only after a verified push.
 */
export interface PushRecord {
  registry: string;
  repository: string;
  tag?: string;
  digest: string;
  /** sha256 hex of plugin.wasm (EnvoyFilter http sources need it). */
  wasmSha256: string;
  format: ImageFormat;
  pushedAt: string;
}

interface RecordFile {
  version: 1;
  last?: string;
  pushes: Record<string, PushRecord>;
}

const MAX_RECORDS = 200;

export function stateDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_STATE_HOME || join(env.HOME || homedir(), '.local', 'state');
  return join(base, 'meshwasm');
}

function recordPath(env: NodeJS.ProcessEnv): string {
  return join(stateDir(env), 'pushes.json');
}

function keyOf(ref: ImageReference): string {
  return formatReference({
    registry: ref.registry,
    repository: ref.repository,
    ...(ref.tag ? { tag: ref.tag } : { digest: ref.digest }),
  });
}

async function load(env: NodeJS.ProcessEnv): Promise<RecordFile> {
  try {
    const parsed = JSON.parse(await readFile(recordPath(env), 'utf8')) as RecordFile;
    if (parsed && parsed.version === 1 && parsed.pushes && typeof parsed.pushes === 'object') return parsed;
  } catch {
    // Missing or unreadable: the record is a cache, start afresh rather than fail a push.
  }
  return { version: 1, pushes: {} };
}

export async function recordPush(
  record: PushRecord,
  options: { env?: NodeJS.ProcessEnv } = {},
): Promise<void> {
  const env = options.env ?? process.env;
  const file = await load(env);
  const key = keyOf(record);
  delete file.pushes[key]; // re-insert so insertion order stays oldest-first
  file.pushes[key] = record;
  file.last = key;
  const keys = Object.keys(file.pushes);
  for (const old of keys.slice(0, Math.max(0, keys.length - MAX_RECORDS))) delete file.pushes[old];
  const dir = stateDir(env);
  await mkdir(dir, { recursive: true });
  const tmp = join(dir, `.pushes.json.${process.pid}.${randomBytes(4).toString('hex')}`);
  try {
    await writeFile(tmp, `${JSON.stringify(file, null, 2)}\n`);
    await rename(tmp, recordPath(env));
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

/** The recorded push of exactly this registry/repository:tag (or @digest), if any. */
export async function findPush(
  ref: ImageReference,
  options: { env?: NodeJS.ProcessEnv } = {},
): Promise<PushRecord | null> {
  const file = await load(options.env ?? process.env);
  return file.pushes[keyOf(ref)] ?? null;
}

export async function lastPush(options: { env?: NodeJS.ProcessEnv } = {}): Promise<PushRecord | null> {
  const file = await load(options.env ?? process.env);
  return file.last ? (file.pushes[file.last] ?? null) : null;
}
