// meshwasm declares Node >= 20 while the @kubernetes-models packages it validates with declare
// >= 22 (npm prints EBADENGINE on Node 20). The suite runs on Node 20; this file runs the CLI under
// Node 22 (scripts/components/node22.sh) on the commands that load those packages and checks it
// prints exactly what Node 20 prints, so both claims are tested.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { requireComponent } from './helpers/components.js';
import { ROOT, runCli } from './helpers/render-run.js';

const goldens = (dir: string) =>
  readdirSync(join(ROOT, 'test', 'golden', dir)).map((file) => join('test', 'golden', dir, file));

const COMMANDS: string[][] = [
  ['render'],
  ['render', '--target', 'envoyfilter', '-o', 'json'],
  ['render', '--target', 'envoy-gateway', '--gateway', 'eg'],
  ['render', '--shape', 'waypoint', '--gateway', 'waypoint', '--mesh-version', 'istio-1.30'],
  ['validate', '-o', 'json', ...goldens('ossm'), ...goldens('envoyfilter'), ...goldens('envoy-gateway')],
  // A user's mistake: the same one-line error and exit code.
  ['render', '--target', 'osm'],
];

t.test('the CLI under Node 22 prints what it prints under Node 20', async (t) => {
  const node22 = requireComponent(t, 'node22');
  if (!node22) return;
  const version = runCli(['version', '-o', 'json'], { node: node22 });
  t.equal(version.code, 0, version.stderr);
  t.match(JSON.parse(version.stdout), { node: /^v22\./ }, 'really Node 22');
  for (const argv of COMMANDS) {
    const on20 = runCli(argv);
    const on22 = runCli(argv, { node: node22 });
    const what = argv.slice(0, 3).join(' ');
    t.equal(on22.code, on20.code, `${what}: exit code ${on20.code}`);
    t.equal(on22.stdout, on20.stdout, `${what}: same stdout`);
    t.equal(on22.stderr, on20.stderr, `${what}: same stderr`);
    if (argv[0] === 'validate') t.match(JSON.parse(on22.stdout), { valid: true }, 'every golden validates');
    else if (on20.code === 0) t.match(on22.stdout, /^(apiVersion|\{)/, `${what}: a render`);
  }
});
