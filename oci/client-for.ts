import { resolveCredential, type CredentialOptions } from './credentials.js';
import type { ImageReference } from './reference.js';
import { RegistryClient } from './registry.js';

export interface ClientOptions {
  insecure?: boolean;
  credentials?: CredentialOptions;
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
  /** Overall deadline of the operation the client serves (a push, a pin). */
  deadlineMs?: number;
}

/** A registry client for one reference, with credentials resolved lazily for its registry and repository (push and pin share it). */
export function registryClientFor(ref: ImageReference, options: ClientOptions): RegistryClient {
  const env = options.env ?? process.env;
  return new RegistryClient({
    registry: ref.registry,
    insecure: options.insecure,
    timeoutMs: options.timeoutMs,
    deadlineMs: options.deadlineMs,
    credentials: () => resolveCredential(ref.registry, ref.repository, { ...options.credentials, env }),
  });
}
