import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The directory holding meshwasm's package.json. Templates (renderers/**\/*.hbs) and the filter
 * configuration schema (filter/config.schema.json) are read from there at run time, so the same
 * code works from the TypeScript sources (tests) and from dist/ (the installed CLI): both live
 * below the package root, at different depths.
 */
let cached: string | undefined;

export function packageRoot(): string {
  if (cached) return cached;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'package.json');
    if (existsSync(candidate) && JSON.parse(readFileSync(candidate, 'utf8')).name === 'meshwasm') {
      cached = dir;
      return dir;
    }
    const parent = dirname(dir);
    /* c8 ignore next 3 -- only reachable from a broken install */
    if (parent === dir)
      throw new Error(`meshwasm: package.json not found above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
}

export function packagePath(...parts: string[]): string {
  return join(packageRoot(), ...parts);
}
