// istioctl on every render (issue 13 §3): each `ossm`/`envoyfilter` golden and each render that
// test/istio-xds.test.ts puts through istiod passes `istioctl validate -f` on its own and
// `istioctl analyze --use-kube=false --all-namespaces` together with the fixture cluster
// (test/fixtures/istio/cluster.yaml). Without --all-namespaces analyze looks at the namespace
// `default` only and finds nothing in any render. Any analyzer message fails the test unless it is
// listed in EXPLAINED with the reason it stays.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';

import { requireComponent } from './helpers/components.js';
import { FIXTURES, ISTIO_VERSIONS, renderCases } from './helpers/istio-xds.js';
import { GOLDEN_CASES } from './helpers/render-cases.js';
import { ROOT, runCommand } from './helpers/render-run.js';

/** Analyzer message codes that are expected here, and why. */
const EXPLAINED: Record<string, string> = {
  // "EnvoyFilter exposes internal implementation details": said of every EnvoyFilter. The
  // envoyfilter target is an EnvoyFilter by definition, and on waypoints the ossm target needs one
  // for the callout cluster (WasmPlugin cannot create a cluster).
  IST0133: 'every EnvoyFilter',
};

const ISTIO_GOLDENS = GOLDEN_CASES.filter((c) => !c.name.startsWith('envoy-gateway/'));

/** A temporary folder removed when the test ends. */
function scratchDir(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'meshwasm-istioctl-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function analyze(istioctl: string, file: string) {
  return run(istioctl, [
    'analyze',
    '--use-kube=false',
    '--all-namespaces',
    join(FIXTURES, 'cluster.yaml'),
    file,
  ]);
}

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
    const analysis = analyze(istioctl, file);
    t.same(unexplained(analysis.out), [], `istioctl analyze ${c.name} reports nothing unexplained`);
    t.not(analysis.code, null, 'analyze ran');
  }
});

t.test('istioctl validate and analyze every render istiod translates', async (t) => {
  const istioctl = requireComponent(t, 'istioctl');
  if (!istioctl) return;
  const dir = scratchDir(t);
  for (const istio of ISTIO_VERSIONS) {
    for (const c of renderCases(istio)) {
      const name = `${istio.mesh} ${c.target} ${c.shape} ${c.source}`;
      const render = await runCommand('render', c.args);
      t.equal(render.code, 0, render.stderr);
      const file = join(dir, 'render.yaml');
      writeFileSync(file, render.stdout);
      const validate = run(istioctl, ['validate', '-f', file]);
      t.equal(validate.code, 0, `istioctl validate ${name}: ${validate.out.trim()}`);
      t.same(
        unexplained(analyze(istioctl, file).out),
        [],
        `istioctl analyze ${name} reports nothing unexplained`,
      );
    }
  }
});

t.test('istioctl analyze reports what it finds (the check above can fail)', async (t) => {
  const istioctl = requireComponent(t, 'istioctl');
  if (!istioctl) return;
  const dir = scratchDir(t);
  // A relative patch at the default priority is what IST0151 is about; render sets priority 10.
  const golden = readFileSync(join(ROOT, 'test', 'golden', 'envoyfilter', 'sidecar-ossm-3.2.yaml'), 'utf8');
  t.match(golden, /\n {2}priority: 10\n/, 'the golden carries the priority render sets');
  writeFileSync(join(dir, 'no-priority.yaml'), golden.replace(/\n {2}priority: 10\n/, '\n'));
  const found = unexplained(analyze(istioctl, join(dir, 'no-priority.yaml')).out);
  t.match(found.join('\n'), /IST0151/, 'without it, analyze warns that the EnvoyFilter may not apply');
});

t.test('istioctl validate rejects a broken render', async (t) => {
  const istioctl = requireComponent(t, 'istioctl');
  if (!istioctl) return;
  const dir = scratchDir(t);
  const broken = readFileSync(join(ROOT, 'test', 'golden', 'ossm', 'sidecar-ossm-3.0.yaml'), 'utf8').replace(
    'phase: STATS',
    'phase: SOMETIMES',
  );
  t.not(broken.includes('SOMETIMES'), false, 'the golden has a phase to break');
  writeFileSync(join(dir, 'broken.yaml'), broken);
  const validate = run(istioctl, ['validate', '-f', join(dir, 'broken.yaml')]);
  t.not(validate.code, 0, `an unknown phase fails: ${validate.out.trim()}`);
});
