import {
  closeSync,
  constants,
  lstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';

import type { RenderedDocument } from './document.js';
import { UsageError } from './errors.js';
import { block } from './yaml-encode.js';

/**
 * --output-dir: one file per resource (<kind>-<name>.yaml, or .json with -o json) plus a
 * kustomization.yaml listing them in apply order, so `kubectl apply -k DIR` works.
 *
 * It touches only what meshwasm wrote. The folder's kustomization.yaml, when meshwasm wrote it,
 * lists the files of the earlier render: those the new render does not write again are removed
 * (else `kubectl apply -f DIR` would apply them), and nothing else in the folder is, or is
 * overwritten. Everything is checked before anything is written (a directory or a symbolic link
 * where a file goes, a file meshwasm did not write), and each file is written to a temporary name
 * and renamed into place, so a planted link is replaced, never followed, and a failure leaves no
 * half-written render.
 */

const KUSTOMIZATION = 'kustomization.yaml';
/** The names meshwasm gives the files of a render (document kinds are meshwasm's own). */
const OUR_FILE =
  /^(wasmplugin|envoyfilter|envoyextensionpolicy|envoypatchpolicy)-[a-z0-9][a-z0-9.-]*\.(yaml|json)$/;

function code(error: unknown): string {
  return (error as NodeJS.ErrnoException).code ?? (error as Error).message;
}

/** lstat that says "absent" instead of throwing ENOENT. */
function entry(path: string) {
  try {
    return lstatSync(path);
  } catch (error) {
    if (code(error) === 'ENOENT' || code(error) === 'ENOTDIR') return undefined;
    throw new UsageError(`--output-dir: cannot read ${path} (${code(error)}); choose a directory you own`);
  }
}

/**
 * Creates DIR and its missing parents one level at a time. (mkdirSync's recursive mode spins
 * forever on some /proc paths, such as /proc/self/x, where mkdir keeps answering ENOENT.)
 */
function makeDirectory(dir: string): void {
  const missing: string[] = [];
  let path = resolve(dir);
  for (;;) {
    const found = entry(path);
    if (found) {
      // The folder (or a parent) may be a link the user made, e.g. ./deploy -> /srv/deploy.
      if (
        !found.isDirectory() &&
        !(found.isSymbolicLink() && statSync(path, { throwIfNoEntry: false })?.isDirectory())
      )
        throw new UsageError(`--output-dir: ${path} exists and is not a directory; choose a directory path`);
      break;
    }
    missing.unshift(path);
    const parent = dirname(path);
    /* c8 ignore next -- the root always exists */
    if (parent === path) break;
    path = parent;
  }
  for (const part of missing) {
    try {
      mkdirSync(part);
    } catch (error) {
      throw new UsageError(
        `--output-dir: cannot create ${part} (${code(error)}); choose a writable directory`,
      );
    }
  }
}

/** The files an earlier render listed in DIR/kustomization.yaml, or undefined if meshwasm did not write it. */
function earlierFiles(dir: string): string[] | undefined {
  const path = join(dir, KUSTOMIZATION);
  const found = entry(path);
  if (!found) return [];
  if (!found.isFile()) return undefined;
  const text = readFileSync(path, 'utf8');
  // Exactly what writeOutputDir writes: the header, then one "- file" line per resource.
  const lines = text.split('\n');
  if (
    lines.slice(0, 3).join('\n') !==
    'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:'
  )
    return undefined;
  const files = lines.slice(3).filter((line) => line !== '');
  if (!files.every((line) => line.startsWith('- ') && OUR_FILE.test(line.slice(2)))) return undefined;
  return files.map((line) => line.slice(2));
}

function writeReplacing(path: string, content: string): void {
  const temporary = join(dirname(path), `.${basename(path)}.meshwasm-${process.pid}.tmp`);
  let fd: number;
  try {
    fd = openSync(
      temporary,
      constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
      0o644,
    );
  } catch (error) {
    throw new UsageError(
      `--output-dir: cannot write in ${dirname(path)} (${code(error)}); choose a writable directory`,
    );
  }
  try {
    writeSync(fd, content);
  } finally {
    closeSync(fd);
  }
  // rename replaces a link (or a file) at `path` itself; it never writes where a link points.
  renameSync(temporary, path);
}

export function writeOutputDir(
  dir: string,
  documents: RenderedDocument[],
  objects: unknown[],
  format: 'yaml' | 'json',
): { written: string[]; removed: string[] } {
  makeDirectory(dir);
  const earlier = earlierFiles(dir);
  if (earlier === undefined)
    throw new UsageError(
      `--output-dir: ${join(dir, KUSTOMIZATION)} was not written by meshwasm; choose another directory (meshwasm never overwrites files it did not write)`,
    );
  const files = documents.map((document) => `${document.kind.toLowerCase()}-${document.name}.${format}`);
  // Check every path first: nothing is written unless all of them can be.
  for (const file of [...files, KUSTOMIZATION]) {
    const path = join(dir, file);
    const found = entry(path);
    if (!found) continue;
    if (found.isSymbolicLink())
      throw new UsageError(
        `--output-dir: ${path} is a symbolic link; meshwasm does not write through links, remove it`,
      );
    if (found.isDirectory())
      throw new UsageError(
        `--output-dir: ${path} is a directory where meshwasm writes a file; remove it or choose another directory`,
      );
    if (!found.isFile())
      throw new UsageError(
        `--output-dir: ${path} is not a regular file; remove it or choose another directory`,
      );
    if (file !== KUSTOMIZATION && !earlier.includes(file))
      throw new UsageError(
        `--output-dir: ${path} exists and was not written by meshwasm (it is not in ${KUSTOMIZATION}); move it or choose another directory`,
      );
  }
  documents.forEach((document, i) => {
    const content = format === 'json' ? `${JSON.stringify(objects[i], null, 2)}\n` : document.text;
    writeReplacing(join(dir, files[i]), content);
  });
  const kustomization = {
    apiVersion: 'kustomize.config.k8s.io/v1beta1',
    kind: 'Kustomization',
    resources: files,
  };
  writeReplacing(join(dir, KUSTOMIZATION), `${block(kustomization, 0).join('\n')}\n`);
  // The earlier render's files that this one did not write again: stale, so removed (a link is
  // removed itself, its target is not touched).
  const removed: string[] = [];
  for (const file of earlier) {
    if (files.includes(file)) continue;
    const path = join(dir, file);
    const found = entry(path);
    if (found && (found.isFile() || found.isSymbolicLink())) {
      unlinkSync(path);
      removed.push(path);
    }
  }
  return { written: [...files, KUSTOMIZATION].map((file) => join(dir, file)), removed };
}
