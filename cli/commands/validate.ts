import { Args, Command, Flags } from '@oclif/core';

import { exitOnError } from '../lib/errors.js';
import { outputFlag, printJson } from '../lib/output-flag.js';
import { runValidate, type ValidateReport } from '../lib/validate-run.js';

/**
 * `meshwasm validate FILE|DIR|-…`: render's own checks, offline, on manifests or values files
 * (cli/lib/validate-run.ts). Exit 0 = valid, 2 = problems found (listed on stderr) or bad usage.
 */
export default class Validate extends Command {
  static override summary = 'Check manifests or a values file offline, with the checks render runs.';

  static override description = `Manifests are checked against the CRD schemas (@kubernetes-models), strictly: an unknown field is an error, as with kubectl --validate=strict (the API server would drop it). Also the CEL rules that matter, DNS-1123 names, the filter configuration schema and the filter's root id; with --mesh-version, also against the fields that version has. Other resources in the same bundle are checked against their schema when meshwasm knows it (Istio, Gateway API, Envoy Gateway kinds) and passed over with a note otherwise.

A values file (a mapping without apiVersion/kind) is resolved on its own (flags and MESHWASM_* variables do not apply) and rendered in memory with every check render runs.

Takes several files, directories (-R: with their subdirectories) and - for stdin. Exit code 0 when everything is valid, 2 when anything is not (each problem on stderr with its file and line) or the input is empty.`;

  static override examples = [
    '<%= config.bin %> <%= command.id %> manifests.yaml --mesh-version ossm-2.6',
    '<%= config.bin %> render | <%= config.bin %> <%= command.id %> -',
    '<%= config.bin %> <%= command.id %> -f deploy/ -R -o json',
    '<%= config.bin %> <%= command.id %> values.yaml',
  ];

  static override args = {
    file: Args.string({
      description: 'Files or directories with manifests or render values, or - for stdin.',
      multiple: true,
    }),
  };

  static override flags = {
    filename: Flags.string({
      char: 'f',
      multiple: true,
      summary: 'A file or directory to check, as with kubectl -f (repeatable).',
    }),
    recursive: Flags.boolean({ char: 'R', summary: 'Also read the subdirectories of directories.' }),
    'mesh-version': Flags.string({
      summary: 'Also check that every field exists on this mesh version (e.g. ossm-2.6, istio-1.30, eg-1.9).',
      env: 'MESHWASM_MESH_VERSION',
    }),
    output: outputFlag(),
  };

  async run(): Promise<ValidateReport> {
    const { args, flags } = await this.parse(Validate);
    let report: ValidateReport;
    try {
      report = await runValidate({
        files: [...(args.file ?? []), ...(flags.filename ?? [])],
        recursive: flags.recursive,
        meshVersion: flags['mesh-version'],
      });
    } catch (error) {
      exitOnError(this, error);
    }
    for (const note of report.notes) process.stderr.write(`note: ${note.message}\n`);
    if (flags.output === 'json') printJson(report);
    if (!report.valid) {
      for (const problem of report.problems) process.stderr.write(`${problem.message}\n`);
      const count = report.problems.length;
      process.stderr.write(`${report.files.join(', ')}: ${count} problem${count === 1 ? '' : 's'}\n`);
      this.exit(2);
    }
    if (flags.output === 'text')
      process.stdout.write(`valid: ${report.files.join(', ')} (${summary(report)})\n`);
    return report;
  }
}

function summary(report: ValidateReport): string {
  const parts = report.rendered.map((r) => `values file renders ${r.resources.join(', ')}`);
  const manifests = report.resources - report.rendered.reduce((n, r) => n + r.resources.length, 0);
  if (manifests > 0 || parts.length === 0)
    parts.unshift(`${manifests} resource${manifests === 1 ? '' : 's'}`);
  if (report.meshVersion) parts.push(report.meshVersion);
  return parts.join(', ');
}
