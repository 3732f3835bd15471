import { existsSync, realpathSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import type { Test } from 'tap';

/**
 * Finds a real component (Envoy, a Go-built tool) for a test. scripts/components.sh installs each
 * one into the cache and links $MESHWASM_CACHE/bin/NAME to it; `npm test` runs that script first.
 * Lookup order: the component's override variable (e.g. MESHWASM_ENVOY), the cache link, then PATH.
 *
 * `requireComponent` is for tests: a missing component fails the test under CI (CI must have
 * installed it) and skips it with the reason elsewhere.
 */

type Tap = Pick<Test, 'skip' | 'fail'>;

export function cacheDir(): string {
  return (
    process.env.MESHWASM_CACHE || join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'meshwasm')
  );
}

/** MESHWASM_<NAME> with dashes as underscores, e.g. MESHWASM_ENVOY, MESHWASM_ISTIOCTL. */
export function overrideVariable(name: string): string {
  return `MESHWASM_${name.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
}

export function componentPath(name: string, onPath: string = name): string | undefined {
  const override = process.env[overrideVariable(name)];
  if (override) return existsSync(override) ? override : undefined;
  const cached = join(cacheDir(), 'bin', name);
  if (existsSync(cached)) return realpathSync(cached);
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir && existsSync(join(dir, onPath))) return join(dir, onPath);
  }
  return undefined;
}

/** What every test does when something it runs is missing: fail under CI, skip with `why` elsewhere. */
export function missingPrerequisite(t: Tap, why: string): void {
  if (process.env.CI) t.fail(`${why}; CI must install it`);
  else t.skip(why, () => {});
}

export function requireComponent(t: Tap, name: string, onPath: string = name): string | undefined {
  const found = componentPath(name, onPath);
  if (found) return found;
  missingPrerequisite(
    t,
    `${name} not found (set ${overrideVariable(name)}, or run scripts/components.sh ${name})`,
  );
  return undefined;
}
