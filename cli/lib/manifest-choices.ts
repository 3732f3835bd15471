// Build step after `oclif manifest`: records in oclif.manifest.json the values of every render
// setting flag with a closed set (--target, --shape, --mesh-version, -o, ...), which is where
// @oclif/plugin-autocomplete reads flag options for shell completion and help. The flags themselves
// stay plain strings: renderers/values.ts validates them (with env vars and values files), so its
// did-you-mean errors name the flag and the fix on every path, not oclif's generic one.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../renderers/package-root.js';
import { settingChoices } from '../../renderers/settings.js';
import { RENDER_FLAGS } from './render-flags.js';

interface ManifestFlag {
  type: string;
  options?: readonly string[];
}
interface Manifest {
  commands: Record<string, { flags: Record<string, ManifestFlag> }>;
}

const choices = new Map<string, readonly string[]>();
for (const flag of RENDER_FLAGS) {
  const values = flag.setting && settingChoices(flag.setting);
  if (values) choices.set(flag.name, values);
}

const file = join(packageRoot(), 'oclif.manifest.json');
const manifest = JSON.parse(readFileSync(file, 'utf8')) as Manifest;
for (const command of Object.values(manifest.commands)) {
  for (const [name, flag] of Object.entries(command.flags)) {
    const values = choices.get(name);
    if (values && flag.type === 'option' && flag.options === undefined) flag.options = values;
  }
}
writeFileSync(file, `${JSON.stringify(manifest, null, 2)}\n`);
