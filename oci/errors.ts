/**
 * One error type for everything under oci/. `code` lets the CLI pick an exit status and lets
 * tests match failures without parsing prose; `message` is what a user reads, so it always
 * names the input or the registry involved and, where there is one, the fix.
 */
export type OciErrorCode =
  | 'EREF' // malformed image reference (a usage error)
  | 'EUSAGE' // other bad input: flags, files
  | 'EWASM' // bytes that are not a WebAssembly module
  | 'ELAYOUT' // an OCI layout / archive that cannot be written or read
  | 'EUNREACHABLE' // registry (or its token service) did not answer
  | 'EAUTH' // 401/403, or credentials that cannot be read
  | 'ENOTFOUND' // manifest / blob / tag not in the registry
  | 'EREJECTED' // registry refused what we sent
  | 'EPROTOCOL' // registry answered something the distribution spec does not allow
  | 'EDIGEST' // content does not hash to the digest it was addressed by
  | 'EVERIFY' // image would be rejected by Istio's fetcher
  | 'EPIN'; // no digest could be found for a tag

export class OciError extends Error {
  readonly code: OciErrorCode;

  constructor(code: OciErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'OciError';
    this.code = code;
  }

  /** Usage errors exit 2 (team rule); every other failure exits 1. Read by cli/lib/errors.ts too. */
  get exitCode(): number {
    return this.code === 'EREF' || this.code === 'EUSAGE' ? 2 : 1;
  }
}

export function exitCodeFor(err: unknown): number {
  return err instanceof OciError ? err.exitCode : 1;
}
