// Shell completion (@oclif/plugin-autocomplete, generated from oclif.manifest.json) offers the values
// of the flags with a closed set, not file names: the generated zsh function is read back.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { SUPPORTED_MESH_VERSIONS } from '../renderers/versions.js';
import { runCli } from './helpers/render-run.js';

t.test('zsh completion offers --target, --shape, --mesh-version and -o values for render', async (t) => {
  const cache = mkdtempSync(join(tmpdir(), 'meshwasm-completion-'));
  const result = runCli(['autocomplete', 'zsh', '--refresh-cache'], { env: { XDG_CACHE_HOME: cache } });
  t.equal(result.code, 0, result.stderr);
  const zsh = readFileSync(join(cache, 'meshwasm', 'autocomplete', 'functions', 'zsh', '_meshwasm'), 'utf8');
  // One spec line per command that has the flag (render, apply, dev, ...): all offer the values.
  const specs = (flag: string) =>
    zsh.split('\n').filter((line) => line.includes(`--${flag}"[`) || line.includes(`--${flag}}"[`));
  const expected: Record<string, RegExp> = {
    target: /:target options:\(ossm envoyfilter envoy-gateway\)"/,
    shape: /:shape options:\(sidecar gateway gateway-api waypoint route\)"/,
    'mesh-version': new RegExp(`:mesh-version options:\\(${SUPPORTED_MESH_VERSIONS.join(' ')}\\)"`),
    output: /:output options:\((yaml|text) json\)"/,
  };
  for (const [flag, pattern] of Object.entries(expected)) {
    const lines = specs(flag);
    t.ok(lines.length >= 3, `--${flag}: completed for ${lines.length} commands`);
    for (const line of lines) t.match(line, pattern, `--${flag}: its values, not file names`);
  }
  t.match(specs('values')[0], /_files/, '-f still completes file names');
});
