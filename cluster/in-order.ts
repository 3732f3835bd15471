/**
 * Promise.all whose failure does not depend on timing: every request runs in parallel, and when
 * several fail (a user without RBAC for Deployments and DaemonSets alike) the error reported is the
 * first in argument order, so the same cluster always gives the same message.
 */
export async function allInOrder<T extends readonly unknown[]>(promises: {
  [K in keyof T]: Promise<T[K]>;
}): Promise<T> {
  const settled = await Promise.allSettled(promises);
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) throw failed.reason;
  return settled.map((s) => (s as PromiseFulfilledResult<unknown>).value) as unknown as T;
}
