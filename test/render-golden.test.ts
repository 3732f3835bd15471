// Golden outputs for every target × shape × mesh version case in helpers/render-cases.ts: the
// render is byte-identical to test/golden/<case>.yaml, rendering twice gives the same bytes, and
// each golden passes meshwasm's own validation for its mesh version. (render-crds.test.ts checks
// the same goldens against the upstream CRDs.)
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import t from 'tap';

import { parseManifestText, validateObjects } from '../renderers/validate.js';
import { parseMeshVersion } from '../renderers/versions.js';
import { GOLDEN_CASES } from './helpers/render-cases.js';
import { ROOT, runCommand } from './helpers/render-run.js';

const UPDATE = process.env.MESHWASM_UPDATE_GOLDENS === '1';

for (const c of GOLDEN_CASES) {
  t.test(c.name, async (t) => {
    const file = join(ROOT, 'test', 'golden', `${c.name}.yaml`);
    const first = await runCommand('render', c.args);
    t.equal(first.code, 0, first.stderr);
    if (UPDATE) {
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, first.stdout);
    }
    t.equal(first.stdout, readFileSync(file, 'utf8'), `matches test/golden/${c.name}.yaml`);
    const second = await runCommand('render', c.args);
    t.equal(second.stdout, first.stdout, 'same input, same bytes');

    const parsed = parseManifestText(first.stdout, c.name);
    t.same(parsed.problems, [], 'parses the same as YAML 1.2 and 1.1');
    t.same(
      await validateObjects(parsed.objects, { mesh: parseMeshVersion(c.mesh) }),
      [],
      `valid for ${c.mesh}`,
    );
  });
}

t.test('every golden file belongs to a case', async (t) => {
  const { readdirSync } = await import('node:fs');
  const names = new Set(GOLDEN_CASES.map((c) => `${c.name}.yaml`));
  const files = (readdirSync(join(ROOT, 'test', 'golden'), { recursive: true }) as string[]).filter((f) =>
    f.endsWith('.yaml'),
  );
  t.same(
    files.filter((f) => !names.has(f)),
    [],
    'no stale goldens',
  );
});
