import { type Api, resourceName } from './api.js';
import { OWNED_KINDS, ownedSelector } from './labels.js';

/**
 * `meshwasm delete`: every object with meshwasm's labels (one instance, or all), across the kinds
 * meshwasm renders and across namespaces unless one is given. Kinds the cluster does not serve
 * hold nothing to delete.
 */
export async function deleteOwned(
  api: Api,
  options: { instance?: string; namespace?: string; dryRun?: boolean },
): Promise<string[]> {
  const deleted: string[] = [];
  for (const { apiVersion, kind } of OWNED_KINDS) {
    const type = await api.resourceType(apiVersion, kind);
    if (!type) continue;
    const items = await api.list(type, {
      namespace: options.namespace,
      labelSelector: ownedSelector(options.instance),
    });
    for (const object of items) {
      const { name, namespace } = object.metadata;
      const response = await api.call(
        {
          method: 'DELETE',
          path: api.path(type, namespace, name),
          query: { dryRun: options.dryRun ? 'All' : undefined },
        },
        'delete',
        resourceName(type),
        namespace,
      );
      // Gone already (another delete raced this one) is what was asked for.
      if (response.status !== 404) api.expect(response, 'delete', `${resourceName(type)} ${name}`);
      deleted.push(
        `${resourceName(type).toLowerCase()}/${name} -n ${namespace} deleted${options.dryRun ? ' (server dry run)' : ''}`,
      );
    }
  }
  return deleted;
}
