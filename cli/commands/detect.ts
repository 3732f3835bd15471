import { Command } from '@oclif/core';

import { CLUSTER_FLAGS } from '../lib/cluster-flags.js';
import { exitOnError } from '../lib/errors.js';
import { outputFlag } from '../lib/output-flag.js';

/** `meshwasm detect`: parse, ask cluster/detect.ts, print. */
export default class Detect extends Command {
  static override summary = 'Find the Envoy-based meshes the cluster runs and the render settings for them.';

  static override description = `Reads what the installs create: istiod's Deployment and its image tag, OSSM 2's ServiceMeshControlPlane, OSSM 3's Sail Istio resource, ztunnel's DaemonSet (ambient), Envoy Gateway's Deployment and its envoy-gateway-config ConfigMap (whether EnvoyPatchPolicy is enabled). Recommends --target, --shape and --mesh-version; render --target auto uses the same recommendation. Exits 1 when no mesh is found.`;

  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> -o json',
  ];

  static override flags = {
    ...CLUSTER_FLAGS,
    output: outputFlag(),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(Detect);
    let failed = false;
    try {
      const [{ connect }, { Api }, { detect, formatDetection }] = await Promise.all([
        import('../../cluster/connection.js'),
        import('../../cluster/api.js'),
        import('../../cluster/detect.js'),
      ]);
      const found = await detect(new Api(await connect(flags)));
      process.stdout.write(
        flags.output === 'json' ? `${JSON.stringify(found, null, 2)}\n` : formatDetection(found),
      );
      failed = !found.recommendation;
    } catch (error) {
      exitOnError(this, error);
    }
    if (failed) this.exit(1);
  }
}
