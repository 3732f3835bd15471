import { Command } from '@oclif/core';

import { CLUSTER_FLAGS, INSTANCE_FLAG, NAMESPACE_FLAG } from '../lib/cluster-flags.js';
import { exitOnError } from '../lib/errors.js';
import { outputFlag } from '../lib/output-flag.js';

/** `meshwasm status`: parse, ask cluster/status.ts, print; exit 1 when a hint was found. */
export default class Status extends Command {
  static override summary = 'Show what meshwasm applied, its conditions, and why it may not work.';

  static override description = `Lists the objects meshwasm applied (by its labels) with the conditions their controllers wrote, and checks what otherwise fails silently: the callout Service and port, pods matching the selector, the image pull secret, conditions that are False (EnvoyPatchPolicy disabled in Envoy Gateway among them). One hint per problem; exit code 1 when there is any.`;

  static override examples = ['<%= config.bin %> <%= command.id %> --instance back-golang'];

  static override flags = {
    ...CLUSTER_FLAGS,
    instance: INSTANCE_FLAG,
    namespace: NAMESPACE_FLAG,
    output: outputFlag(),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(Status);
    let failed = false;
    try {
      const [{ connect }, { Api }, { clusterStatus, formatStatus }] = await Promise.all([
        import('../../cluster/connection.js'),
        import('../../cluster/api.js'),
        import('../../cluster/status.js'),
      ]);
      const report = await clusterStatus(new Api(await connect(flags)), flags);
      process.stdout.write(
        flags.output === 'json' ? `${JSON.stringify(report, null, 2)}\n` : formatStatus(report),
      );
      failed = report.hints.length > 0;
    } catch (error) {
      exitOnError(this, error);
    }
    if (failed) this.exit(1);
  }
}
