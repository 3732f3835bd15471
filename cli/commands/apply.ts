import { Command, Flags } from '@oclif/core';

import { CLUSTER_FLAGS } from '../lib/cluster-flags.js';
import { exitOnError } from '../lib/errors.js';
import { givenSettings, renderFlags } from '../lib/oclif-flags.js';
import { registryOptions, renderRequest } from '../lib/render-run.js';

/** `meshwasm apply`: parse, render (cli/lib/render-run.ts), server-side apply (cluster/apply.ts), print. */
export default class Apply extends Command {
  static override summary = 'Render, then server-side apply the objects to the cluster.';

  static override description = `Takes every render flag (see meshwasm render --help) and applies what render prints with server-side apply, field manager "meshwasm", labelled app.kubernetes.io/managed-by=meshwasm and meshwasm.io/instance=<instance>. Prints one line per object: created, configured or unchanged. Fails, changing nothing, when the cluster lacks a CRD the objects need; a field another field manager owns fails the object unless --force-conflicts.`;

  static override examples = [
    '<%= config.bin %> <%= command.id %> --dry-run=server',
    '<%= config.bin %> <%= command.id %> --target auto --context prod',
  ];

  static override flags = {
    ...renderFlags(),
    ...CLUSTER_FLAGS,
    instance: Flags.string({
      summary: 'Value of the meshwasm.io/instance label (default: --workload).',
      helpGroup: 'CLUSTER',
    }),
    'dry-run': Flags.string({
      summary: 'server: the API server checks and admits everything but persists nothing.',
      options: ['none', 'server'],
      default: 'none',
      helpGroup: 'CLUSTER',
    }),
    'force-conflicts': Flags.boolean({
      summary: 'Take over fields another field manager owns.',
      helpGroup: 'CLUSTER',
    }),
  };

  async run(): Promise<void> {
    const { flags, raw } = await this.parse(Apply);
    const cluster = { kubeconfig: flags.kubeconfig, context: flags.context };
    try {
      const rendered = await renderRequest(
        {
          values: flags.values,
          printValues: flags['print-values'],
          given: givenSettings(flags, raw),
          registry: registryOptions((name) => (flags as Record<string, unknown>)[name]),
        },
        cluster,
      );
      if (rendered.printed) return;
      const { applyRendered } = await import('../../cluster/apply.js');
      const dryRun = flags['dry-run'] === 'server';
      const applied = await applyRendered(rendered.resolved, rendered.result.objects, {
        ...cluster,
        instance: flags.instance,
        dryRun,
        force: flags['force-conflicts'],
      });
      for (const { ref, outcome, warnings } of applied) {
        for (const warning of warnings) process.stderr.write(`warning: ${ref}: ${warning}\n`);
        process.stdout.write(`${ref} ${outcome}${dryRun ? ' (server dry run)' : ''}\n`);
      }
      for (const note of rendered.notes) process.stderr.write(`${note}\n`);
    } catch (error) {
      exitOnError(this, error);
    }
  }
}
