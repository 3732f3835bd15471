import { Args, Command, Flags } from '@oclif/core';

import { UsageError } from '../../renderers/errors.js';
import { exitOnError } from '../lib/errors.js';
import { readInput } from '../lib/input.js';

/**
 * `meshwasm validate FILE|-`: runs render's own checks offline on manifests (WasmPlugin,
 * EnvoyFilter, EnvoyExtensionPolicy, EnvoyPatchPolicy; a v1 List too) or on a values file (which is
 * rendered in memory). Exit 0 = valid, 1 = problems found (listed on stderr), 2 = usage error.
 */
export default class Validate extends Command {
  static override summary = 'Check manifests or a values file offline, with the checks render runs.';

  static override description = `Manifests are checked against the CRD schemas (@kubernetes-models), the CEL rules that matter, DNS-1123 names, the filter configuration schema and the filter's root id; with --mesh-version, also against the fields that version has. A values file (a mapping without apiVersion/kind) is resolved on its own (flags and MESHWASM_* variables do not apply) and rendered in memory with every check render runs.`;

  static override examples = [
    '<%= config.bin %> <%= command.id %> manifests.yaml --mesh-version ossm-2.6',
    '<%= config.bin %> render | <%= config.bin %> <%= command.id %> -',
    '<%= config.bin %> <%= command.id %> values.yaml',
  ];

  static override args = {
    file: Args.string({
      description: 'File with manifests or render values, or - for stdin.',
      required: true,
    }),
  };

  static override flags = {
    'mesh-version': Flags.string({
      summary: 'Also check that every field exists on this mesh version (e.g. ossm-2.6, istio-1.30, eg-1.9).',
      env: 'MESHWASM_MESH_VERSION',
    }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(Validate);
    try {
      const [{ parseMeshVersion, SUPPORTED_MESH_VERSIONS }, validate] = await Promise.all([
        import('../../renderers/versions.js'),
        import('../../renderers/validate.js'),
      ]);
      const mesh = flags['mesh-version'] === undefined ? undefined : parseMeshVersion(flags['mesh-version']);
      if (flags['mesh-version'] !== undefined && !mesh) {
        throw new UsageError(
          `--mesh-version: ${JSON.stringify(flags['mesh-version'])} is not a mesh version meshwasm knows; use one of ${SUPPORTED_MESH_VERSIONS.join(', ')}`,
        );
      }
      const input = await readInput(args.file, 'FILE');
      const parsed = validate.parseManifestText(input.text, input.name);
      let problems = parsed.problems;
      let summary = '';
      if (problems.length === 0 && isValuesFile(parsed.objects)) {
        const [{ resolveValues }, { render }] = await Promise.all([
          import('../../renderers/values.js'),
          import('../../renderers/render.js'),
        ]);
        try {
          // --mesh-version, when given, overrides the file's meshVersion like a render flag would.
          const flagsForValues = mesh ? { meshVersion: mesh.id } : {};
          const result = await render(
            resolveValues({
              flags: flagsForValues,
              file: { name: input.name, data: parsed.objects[0] ?? {} },
            }),
          );
          summary = `values file renders ${result.documents.map((d) => `${d.kind} ${d.namespace}/${d.name}`).join(', ')}`;
        } catch (error) {
          // A bad value in the checked file is a finding (exit 1), not a usage error of validate.
          if (!(error instanceof UsageError)) throw error;
          problems = [error.message];
        }
      } else if (problems.length === 0) {
        problems = await validate.validateObjects(parsed.objects, { mesh });
        summary = `${parsed.objects.length} resource${parsed.objects.length === 1 ? '' : 's'}`;
      }
      if (problems.length > 0) {
        for (const problem of problems) process.stderr.write(`${problem}\n`);
        process.stderr.write(
          `${input.name}: ${problems.length} problem${problems.length === 1 ? '' : 's'}\n`,
        );
        this.exit(1);
      }
      process.stdout.write(`valid: ${input.name} (${summary}${mesh ? `, ${mesh.id}` : ''})\n`);
    } catch (error) {
      exitOnError(this, error);
    }
  }
}

/** A values file is one mapping without apiVersion/kind (or an empty file). */
function isValuesFile(objects: unknown[]): boolean {
  if (objects.length === 0) return true;
  if (objects.length !== 1) return false;
  const only = objects[0];
  return (
    typeof only === 'object' &&
    only !== null &&
    !Array.isArray(only) &&
    !('apiVersion' in only) &&
    !('kind' in only)
  );
}
