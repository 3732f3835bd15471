/**
 * The environment for a child process a test sends SIGINT to: the test's own, minus tap's
 * NODE_OPTIONS hooks. With those hooks loaded in the child, a SIGINT that follows traffic through
 * `meshwasm dev` was lost now and then (tap 21; SIGTERM, and the same child without the hooks, were
 * unaffected), which hung the test until tap's timeout. Such a child's coverage is not collected.
 */
export function envForSignalledChild(): NodeJS.ProcessEnv {
  return { ...process.env, NODE_OPTIONS: '' };
}
