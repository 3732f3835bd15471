import { Command, Flags } from '@oclif/core';

import { CLUSTER_FLAGS, INSTANCE_FLAG, NAMESPACE_FLAG } from '../lib/cluster-flags.js';
import { exitOnError } from '../lib/errors.js';

/** `meshwasm delete`: parse, cluster/delete.ts, print one line per deleted object. */
export default class Delete extends Command {
  static override summary = 'Delete what meshwasm applied (one instance, or all of it).';

  static override description = `Deletes every WasmPlugin, EnvoyFilter, EnvoyExtensionPolicy and EnvoyPatchPolicy labelled app.kubernetes.io/managed-by=meshwasm (and meshwasm.io/instance=<instance> with --instance), in every namespace unless --namespace.`;

  static override flags = {
    ...CLUSTER_FLAGS,
    instance: INSTANCE_FLAG,
    namespace: NAMESPACE_FLAG,
    'dry-run': Flags.string({
      summary: 'server: the API server checks the deletes but persists nothing.',
      options: ['none', 'server'],
      default: 'none',
    }),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(Delete);
    try {
      const [{ connect }, { Api }, { deleteOwned }] = await Promise.all([
        import('../../cluster/connection.js'),
        import('../../cluster/api.js'),
        import('../../cluster/delete.js'),
      ]);
      const deleted = await deleteOwned(new Api(await connect(flags)), {
        ...flags,
        dryRun: flags['dry-run'] === 'server',
      });
      for (const line of deleted) process.stdout.write(`${line}\n`);
      if (deleted.length === 0)
        process.stderr.write("nothing to delete: no object carries meshwasm's labels\n");
    } catch (error) {
      exitOnError(this, error);
    }
  }
}
