/**
 * A cluster command failed for a reason outside meshwasm: the API server is unreachable, refused
 * the credentials or a permission, does not serve a kind, or another field manager owns a field.
 * Exit code 1 with one message that says what was denied or missing and what to do; no stack trace
 * (cli/lib/errors.ts prints any error that carries an exitCode). A user's own mistake (no
 * kubeconfig, an unknown context, a bad flag) is a UsageError (exit code 2) instead.
 */
export class ClusterError extends Error {
  readonly exitCode = 1;
  constructor(message: string) {
    super(message);
    this.name = 'ClusterError';
  }
}
