import { readdirSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';

import { UsageError } from '../../renderers/errors.js';
import { readInput } from './input.js';

/**
 * What `meshwasm validate` does once its argv is parsed: takes files, directories (their
 * .yaml/.yml/.json files, with `recursive` also those of subdirectories, as `kubectl -f DIR -R`)
 * and "-" for stdin; checks each file's manifests with render's checks (renderers/validate.ts) or,
 * for a file that is one mapping without apiVersion/kind, renders it as a values file. Every
 * problem is a finding with its file and line; the caller prints them and exits 2 if any.
 */

export interface ValidateRequest {
  files: string[];
  recursive: boolean;
  meshVersion?: string;
}

export interface Finding {
  file: string;
  line?: number;
  message: string;
}

/** The report, also printed as-is by `validate -o json` (field names shared with the other commands' JSON). */
export interface ValidateReport {
  valid: boolean;
  meshVersion?: string;
  files: string[];
  /** Resources checked (a values file counts the resources it renders). */
  resources: number;
  problems: Finding[];
  notes: Finding[];
  /** Per values file: the resources it renders. */
  rendered: { file: string; resources: string[] }[];
}

const MANIFEST_EXTENSIONS = new Set(['.yaml', '.yml', '.json']);

/** The files of DIR that kubectl's -f DIR reads (sorted), recursing with -R. */
function directoryFiles(dir: string, recursive: boolean): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const path = join(dir, entry.name);
    let isDirectory = entry.isDirectory();
    if (entry.isSymbolicLink())
      isDirectory = statSync(path, { throwIfNoEntry: false })?.isDirectory() ?? false;
    if (isDirectory) {
      if (recursive) out.push(...directoryFiles(path, recursive));
    } else if (MANIFEST_EXTENSIONS.has(extname(entry.name).toLowerCase())) {
      out.push(path);
    }
  }
  return out;
}

function expandInputs(paths: string[], recursive: boolean): string[] {
  if (paths.length === 0)
    throw new UsageError(
      'FILE: give a file, a directory or - for stdin (e.g. meshwasm render | meshwasm validate -)',
    );
  const files: string[] = [];
  for (const path of paths) {
    if (path !== '-' && statSync(path, { throwIfNoEntry: false })?.isDirectory()) {
      const inDir = directoryFiles(path, recursive);
      if (inDir.length === 0)
        throw new UsageError(
          `FILE: ${path} holds no .yaml, .yml or .json files${recursive ? '' : ' (add -R for its subdirectories)'}`,
        );
      files.push(...inDir);
    } else {
      files.push(path);
    }
  }
  if (files.filter((file) => file === '-').length > 1)
    throw new UsageError('FILE: - (stdin) can be given only once');
  return files;
}

/** A values file is one mapping without apiVersion/kind. */
function isValuesFile(objects: unknown[]): boolean {
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

export async function runValidate(request: ValidateRequest): Promise<ValidateReport> {
  const [{ parseMeshVersion, SUPPORTED_MESH_VERSIONS }, validate] = await Promise.all([
    import('../../renderers/versions.js'),
    import('../../renderers/validate.js'),
  ]);
  const mesh = request.meshVersion === undefined ? undefined : parseMeshVersion(request.meshVersion);
  if (request.meshVersion !== undefined && !mesh) {
    throw new UsageError(
      `--mesh-version: ${JSON.stringify(request.meshVersion)} is not a mesh version meshwasm knows; use one of ${SUPPORTED_MESH_VERSIONS.join(', ')}`,
    );
  }
  const report: ValidateReport = {
    valid: true,
    ...(mesh ? { meshVersion: mesh.id } : {}),
    files: [],
    resources: 0,
    problems: [],
    notes: [],
    rendered: [],
  };
  for (const path of expandInputs(request.files, request.recursive)) {
    const input = await readInput(path, 'FILE');
    const file = input.name;
    report.files.push(file);
    const parsed = validate.parseManifestText(input.text, file);
    if (parsed.problems.length > 0) {
      // parseManifestText's problems already start with "file:line:column: ".
      report.problems.push(...parsed.problems.map((message) => ({ file, message })));
      continue;
    }
    if (parsed.objects.length === 0) {
      report.problems.push({
        file,
        message: `${file}: empty input, nothing to validate (did the command before the pipe fail?)`,
      });
      continue;
    }
    if (isValuesFile(parsed.objects)) {
      await validateValuesFile(file, parsed.objects[0], mesh?.id, report);
      continue;
    }
    for (const [i, object] of parsed.objects.entries()) {
      const line = parsed.lines[i];
      const notes: string[] = [];
      const problems = await validate.validateObjects([object], { mesh, notes });
      const isList = (object as { kind?: unknown }).kind === 'List';
      report.resources += isList ? ((object as { items?: unknown[] }).items?.length ?? 0) : 1;
      report.problems.push(
        ...problems.map((message) => ({ file, line, message: `${file}:${line}: ${message}` })),
      );
      report.notes.push(...notes.map((message) => ({ file, line, message: `${file}:${line}: ${message}` })));
    }
  }
  report.valid = report.problems.length === 0;
  return report;
}

async function validateValuesFile(
  file: string,
  data: unknown,
  meshVersion: string | undefined,
  report: ValidateReport,
): Promise<void> {
  const [{ resolveValues }, { render }] = await Promise.all([
    import('../../renderers/values.js'),
    import('../../renderers/render.js'),
  ]);
  try {
    // --mesh-version, when given, overrides the file's meshVersion like a render flag would.
    const result = await render(
      resolveValues({ flags: meshVersion ? { meshVersion } : {}, file: { name: file, data } }),
    );
    report.resources += result.documents.length;
    report.rendered.push({
      file,
      resources: result.documents.map((d) => `${d.kind} ${d.namespace}/${d.name}`),
    });
  } catch (error) {
    // A bad value in the checked file is a finding of validate, not a usage error of validate.
    if (!(error instanceof UsageError)) throw error;
    report.problems.push({ file, message: error.message });
  }
}
