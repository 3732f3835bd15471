// istioctl on every render (issue 13 §3): each `ossm`/`envoyfilter` golden passes
// `istioctl validate -f` on its own and `istioctl analyze --use-kube=false` together with the
// fixture cluster (test/fixtures/istio/cluster.yaml). Any analyzer message fails the test unless it
// is listed in EXPLAINED with the reason it does not apply.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import t from 'tap';

import { requireComponent } from './helpers/components.js';
import { FIXTURES } from './helpers/istio-xds.js';
import { GOLDEN_CASES } from './helpers/render-cases.js';
import { ROOT } from './helpers/render-run.js';

/** Analyzer message codes that are expected here, and why. */
const EXPLAINED: Record<string, string> = {};

const ISTIO_GOLDENS = GOLDEN_CASES.filter((c) => !c.name.startsWith('envoy-gateway/'));

function run(istioctl: string, args: string[]) {
  const r = spawnSync(istioctl, args, {
    encoding: 'utf8',
    env: { ...process.env, HOME: process.env.HOME ?? '/tmp' },
  });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

/** Analyzer lines look like `Warning [IST0102] (Namespace x) …`; returns the unexplained ones. */
function unexplained(output: string): string[] {
  return output
    .split('\n')
    .filter((line) => /^(Error|Warning|Info)\s*\[/.test(line))
    .filter((line) => !Object.keys(EXPLAINED).some((code) => line.includes(`[${code}]`)));
}

t.test('istioctl validate and analyze every Istio golden', async (t) => {
  const istioctl = requireComponent(t, 'istioctl');
  if (!istioctl) return;
  for (const c of ISTIO_GOLDENS) {
    const file = join(ROOT, 'test', 'golden', `${c.name}.yaml`);
    const validate = run(istioctl, ['validate', '-f', file]);
    t.equal(validate.code, 0, `istioctl validate -f ${c.name}: ${validate.out.trim()}`);
    const analyze = run(istioctl, ['analyze', '--use-kube=false', join(FIXTURES, 'cluster.yaml'), file]);
    t.same(unexplained(analyze.out), [], `istioctl analyze ${c.name} reports nothing unexplained`);
    t.not(analyze.code, null, 'analyze ran');
  }
});

t.test('istioctl validate rejects a broken render', async (t) => {
  const istioctl = requireComponent(t, 'istioctl');
  if (!istioctl) return;
  const { mkdtempSync, readFileSync, writeFileSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const dir = mkdtempSync(join(tmpdir(), 'meshwasm-istioctl-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const broken = readFileSync(join(ROOT, 'test', 'golden', 'ossm', 'sidecar-ossm-3.0.yaml'), 'utf8').replace(
    'phase: STATS',
    'phase: SOMETIMES',
  );
  t.not(broken.includes('SOMETIMES'), false, 'the golden has a phase to break');
  writeFileSync(join(dir, 'broken.yaml'), broken);
  const validate = run(istioctl, ['validate', '-f', join(dir, 'broken.yaml')]);
  t.not(validate.code, 0, `an unknown phase fails: ${validate.out.trim()}`);
});
