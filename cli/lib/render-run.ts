import { UsageError } from '../../renderers/errors.js';
import { loadModule } from '../../renderers/load-module.js';
import { readInput } from './input.js';
import { revealSecret } from './argv-secrets.js';

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
  /** How to reach the registry when pinning a user-given --image (push's options). */
  registry: RegistryOptions;
  /** Settings given on the command line, by values key (env and the file are resolved later). */
  given: Record<string, unknown>;
}

/** Cluster access for --target auto (apply passes its --kubeconfig/--context; render uses the defaults). */
export interface ClusterOptions {
  kubeconfig?: string;
  context?: string;
}

export interface RegistryOptions {
  insecure: boolean;
  creds?: string;
  username?: string;
  passwordStdin: boolean;
}

/** The registry options from parsed flags (either parser's), checked the way push checks them. */
export function registryOptions(flag: (name: string) => unknown): RegistryOptions {
  const options: RegistryOptions = {
    insecure: flag('insecure') === true,
    passwordStdin: flag('password-stdin') === true,
    ...(typeof flag('creds') === 'string' ? { creds: flag('creds') as string } : {}),
    ...(typeof flag('username') === 'string' ? { username: flag('username') as string } : {}),
  };
  return options;
}

function checkRegistryOptions(request: RenderRequest): void {
  const { creds, username, passwordStdin } = request.registry;
  if (creds !== undefined && (username !== undefined || passwordStdin))
    throw new UsageError(
      '--creds: give either --creds USER:PASSWORD or --username with --password-stdin, not both',
    );
  if ((username !== undefined) !== passwordStdin)
    throw new UsageError('--username: goes with --password-stdin (the password is read from stdin)');
  if (passwordStdin && request.values === '-')
    throw new UsageError('--password-stdin: stdin cannot hold both the password and the values file (-f -)');
}

async function readPassword(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  // Like `docker login --password-stdin`: one trailing newline is not part of the password.
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

export async function runRender(request: RenderRequest): Promise<void> {
  const rendered = await renderRequest(request);
  if (rendered.printed) return;
  const { resolved, result, notes } = rendered;
  // Already loaded by renderRequest (the module cache answers).
  const { formatJson, formatYaml } =
    await load<typeof import('../../renderers/render.js')>('../../renderers/render.js');
  const { output, outputDir } = resolved.values;
  if (outputDir === undefined) {
    process.stdout.write(output === 'json' ? formatJson(result.objects) : formatYaml(result.documents));
  } else {
    const { writeOutputDir } = await import('../../renderers/output-dir.js');
    const { written, removed } = writeOutputDir(outputDir, result.documents, result.objects, output);
    for (const path of written) process.stderr.write(`wrote ${path}\n`);
    for (const path of removed) process.stderr.write(`removed ${path} (written by an earlier render)\n`);
  }
  // Notes come last, so a failure above is the only thing on stderr.
  for (const note of notes) process.stderr.write(`${note}\n`);
}

type Rendered =
  | { printed: true }
  | {
      printed: false;
      resolved: import('../../renderers/values.js').ResolvedValues;
      result: import('../../renderers/render.js').RenderResult;
      /** Pinning warnings, detection notes and render notes, for stderr. */
      notes: string[];
    };

/**
 * Values → render result, without writing stdout (except --print-values, which is the whole
 * output). `meshwasm apply` renders through this too, so it takes exactly render's flags.
 */
export async function renderRequest(request: RenderRequest, cluster: ClusterOptions = {}): Promise<Rendered> {
  checkRegistryOptions(request);
  const { resolveValues } =
    await load<typeof import('../../renderers/values.js')>('../../renderers/values.js');
  let file: { name: string; data: unknown } | undefined;
  if (request.values !== undefined) {
    const [input, { readYaml }] = await Promise.all([
      readInput(request.values, '--values'),
      import('../../renderers/yaml-read.js'),
    ]);
    file = { name: input.name, data: parseValuesFile(readYaml, input.text, input.name) };
  }
  const notes: string[] = [];
  const given = await withAutoTarget(request.given, file, cluster, notes);
  const resolved = resolveValues({ flags: given, env: process.env, file });
  if (request.printValues) {
    const [{ buildModel }, { formatValues }] = await Promise.all([
      import('../../renderers/model.js'),
      import('../../renderers/values-file.js'),
    ]);
    buildModel(resolved);
    process.stdout.write(formatValues(resolved));
    return { printed: true };
  }
  const { render } = await load<typeof import('../../renderers/render.js')>('../../renderers/render.js');
  const pinWarnings: string[] = [];
  const result = await render(
    resolved,
    resolved.given('image')
      ? {
          pinImage: (ref) =>
            pinGivenImage(ref, request.registry, pinWarnings, resolved.values.registryTimeout),
        }
      : {},
  );
  return { printed: false, resolved, result, notes: [...notes, ...pinWarnings, ...result.notes] };
}

/**
 * --target auto (flag, MESHWASM_TARGET or the values file): asks the cluster (cluster/detect.ts)
 * and renders for what it runs. The detected shape and mesh version apply only where the user gave
 * none. Only this branch loads the cluster client.
 */
async function withAutoTarget(
  given: Record<string, unknown>,
  file: { data: unknown } | undefined,
  cluster: ClusterOptions,
  notes: string[],
): Promise<Record<string, unknown>> {
  const fromFile = (key: string) =>
    file?.data && typeof file.data === 'object' ? (file.data as Record<string, unknown>)[key] : undefined;
  const env = process.env;
  const target = given.target ?? (env.MESHWASM_TARGET || undefined) ?? fromFile('target');
  if (target !== 'auto') return given;
  const [{ connect }, { Api }, { recommendation }] = await Promise.all([
    import('../../cluster/connection.js'),
    import('../../cluster/api.js'),
    import('../../cluster/detect.js'),
  ]);
  const found = await recommendation(new Api(await connect(cluster)));
  const r = found.recommendation;
  const isGiven = (key: string, envName: string) =>
    given[key] !== undefined || Boolean(env[envName]) || fromFile(key) !== undefined;
  notes.push(
    `--target auto: ${r.target}, shape ${r.shape}, mesh version ${r.meshVersion} (meshwasm detect)`,
    ...found.notes.map((note) => `note: ${note}`),
  );
  return {
    ...given,
    target: r.target,
    ...(isGiven('shape', 'MESHWASM_SHAPE') ? {} : { shape: r.shape }),
    ...(isGiven('meshVersion', 'MESHWASM_MESH_VERSION') ? {} : { meshVersion: r.meshVersion }),
  };
}

/**
 * A user-given --image without a digest is pinned (oci/pin.ts): the registry's current digest for
 * the tag, else the one this machine recorded at its last push of it. If neither is available the
 * render fails (exit 1) rather than emit a tag the cluster may resolve differently.
 */
async function pinGivenImage(
  ref: string,
  registry: RegistryOptions,
  warnings: string[],
  timeoutSeconds: number,
) {
  const { pinImageReference } = await import('../../oci/pin.js');
  const password = registry.passwordStdin ? await readPassword() : undefined;
  return pinImageReference(ref, {
    insecure: registry.insecure,
    deadlineMs: timeoutSeconds * 1000,
    credentials: { creds: revealSecret('creds', registry.creds), username: registry.username, password },
    onWarning: (message) => warnings.push(`warning: ${message}`),
  });
}

function parseValuesFile(
  readYaml: typeof import('../../renderers/yaml-read.js').readYaml,
  text: string,
  name: string,
): unknown {
  const { documents, findings } = readYaml(text, { single: true });
  if (findings.length > 0) {
    const { line, column, message } = findings[0];
    const more = findings.length > 1 ? ` (and ${findings.length - 1} more)` : '';
    throw new UsageError(
      `--values: ${name}:${line}:${column}: ${message}${more}; fix the file or see --print-values`,
    );
  }
  return documents[0]?.value;
}
