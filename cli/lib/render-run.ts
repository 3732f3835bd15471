import { UsageError } from '../../renderers/errors.js';
import { loadModule } from '../../renderers/load-module.js';
import { readInput } from './input.js';

/**
 * What `meshwasm render` does once its argv is parsed, shared by both ways in: the oclif command
 * (cli/commands/render.ts) and the lean entry that skips oclif (cli/render-main.ts), so the two can
 * only differ in how they read argv. Resolves values, renders (or prints the values), writes stdout
 * and stderr; throws UsageError/RenderBug for the caller to report. Everything heavy is imported
 * here, on demand, so parsing and --help stay cheap and only the chosen target's modules load.
 * What every render needs loads with renderers/load-module.ts (faster than import() where Node can
 * require() ES modules); the occasional branches (values file, --print-values, --output-dir,
 * pinning) use plain import().
 */

const load = <T>(path: string) => loadModule<T>(new URL(path, import.meta.url));

export interface RenderRequest {
  /** -f/--values (or MESHWASM_VALUES): a file name, or - for stdin. */
  values?: string;
  printValues: boolean;
  /** Settings given on the command line, by values key (env and the file are resolved later). */
  given: Record<string, unknown>;
}

export async function runRender(request: RenderRequest): Promise<void> {
  const { resolveValues } =
    await load<typeof import('../../renderers/values.js')>('../../renderers/values.js');
  let file: { name: string; data: unknown } | undefined;
  if (request.values !== undefined) {
    const [input, { parse }] = await Promise.all([readInput(request.values, '--values'), import('yaml')]);
    file = { name: input.name, data: parseValuesFile(parse, input.text, input.name) };
  }
  const resolved = resolveValues({ flags: request.given, env: process.env, file });
  if (request.printValues) {
    const [{ buildModel }, { formatValues }] = await Promise.all([
      import('../../renderers/model.js'),
      import('../../renderers/values-file.js'),
    ]);
    buildModel(resolved);
    process.stdout.write(formatValues(resolved));
    return;
  }
  const { formatJson, formatYaml, render } =
    await load<typeof import('../../renderers/render.js')>('../../renderers/render.js');
  const pinWarnings: string[] = [];
  const result = await render(
    resolved,
    resolved.given('image') ? { pinImage: (ref) => pinGivenImage(ref, pinWarnings) } : {},
  );
  const { output, outputDir } = resolved.values;
  if (outputDir === undefined) {
    process.stdout.write(output === 'json' ? formatJson(result.objects) : formatYaml(result.documents));
  } else {
    const { writeOutputDir } = await import('../../renderers/output-dir.js');
    for (const path of writeOutputDir(outputDir, result.documents, result.objects, output))
      process.stderr.write(`wrote ${path}\n`);
  }
  // Notes come last, so a failure above is the only thing on stderr.
  for (const note of [...pinWarnings, ...result.notes]) process.stderr.write(`${note}\n`);
}

/**
 * A user-given --image without a digest is pinned (oci/pin.ts): the registry's current digest for
 * the tag, else the one this machine recorded at its last push of it. If neither is available the
 * render fails (exit 1) rather than emit a tag the cluster may resolve differently.
 */
async function pinGivenImage(ref: string, warnings: string[]) {
  const { pinImageReference } = await import('../../oci/pin.js');
  return pinImageReference(ref, { onWarning: (message) => warnings.push(`warning: ${message}`) });
}

function parseValuesFile(
  parse: (text: string, options: object) => unknown,
  text: string,
  name: string,
): unknown {
  try {
    return parse(text, { strict: true, uniqueKeys: true, maxAliasCount: 0 });
  } catch (error) {
    throw new UsageError(
      `--values: ${name} is not valid YAML (${(error as Error).message.split('\n')[0]}); fix the file or see --print-values`,
    );
  }
}
