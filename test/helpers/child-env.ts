/**
 * The environment for a child process a test sends SIGINT to: the test's own, minus tap's
 * NODE_OPTIONS hooks, so the signal meets meshwasm's handlers only. (The SIGINTs these tests lost
 * came from dev's use of node:vm breakOnSigint, since removed; the hooks, which slow the child,
 * made the loss likelier.) Such a child's coverage is not collected.
 */
export function envForSignalledChild(): NodeJS.ProcessEnv {
  return { ...process.env, NODE_OPTIONS: '' };
}
