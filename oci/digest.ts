import { createHash } from 'node:crypto';

/** `sha256:<hex>` of some bytes: the content address used for every blob and manifest. */
export function sha256Digest(data: Uint8Array): string {
  return `sha256:${sha256Hex(data)}`;
}

export function sha256Hex(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** The hex part of a `sha256:` digest (what WasmPlugin/EnvoyExtensionPolicy `sha256` fields want). */
export function digestHex(digest: string): string {
  const i = digest.indexOf(':');
  return i < 0 ? digest : digest.slice(i + 1);
}

const SHA256_DIGEST = /^sha256:[a-f0-9]{64}$/;

export function isSha256Digest(value: string): boolean {
  return SHA256_DIGEST.test(value);
}
