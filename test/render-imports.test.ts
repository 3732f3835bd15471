// What `meshwasm render` loads: never @kubernetes/client-node (hundreds of ms), and only the
// @kubernetes-models classes of the chosen target; through the lean entry, not oclif either, nor
// the handlebars compiler or ajv's (the build precompiled what they would compile). Checked on the
// real CLI with a preload that logs every module (helpers/record-imports.mjs). Also: the oclif
// manifest ships and lists the commands, so oclif does not import every command to find one.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';

import { envName, SETTINGS } from '../renderers/settings.js';
import { cleanEnv, ROOT, runCli } from './helpers/render-run.js';

const scratch = mkdtempSync(join(tmpdir(), 'meshwasm-imports-'));

function loaded(args: string[], env: Record<string, string> = {}): string[] {
  runCli(['render', '--help']); // fails early with a clear message when dist/ is missing
  const log = join(scratch, `${args.join('_') || 'none'}${Object.keys(env).join('_')}.log`);
  const result = spawnSync(
    process.execPath,
    ['--import', join(ROOT, 'test', 'helpers', 'record-imports.mjs'), join(ROOT, 'bin', 'run.js'), ...args],
    {
      cwd: ROOT,
      env: cleanEnv({ ...env, MESHWASM_IMPORT_LOG: log }),
      encoding: 'utf8',
    },
  );
  if (result.status !== 0) throw new Error(`render ${args.join(' ')} failed: ${result.stderr}`);
  return readFileSync(log, 'utf8').split('\n').filter(Boolean);
}

const models = (urls: string[]) =>
  [
    ...new Set(
      urls
        .map((url) => /@kubernetes-models\/[^/]+\/[^/]+\/[^/]+\/([A-Za-z]+)\.m?js$/.exec(url)?.[1])
        .filter(Boolean),
    ),
  ].sort();

t.test('render loads only its target’s model classes and never @kubernetes/client-node', async (t) => {
  const expected: Record<string, string[]> = {
    ossm: ['WasmPlugin'],
    envoyfilter: ['EnvoyFilter'],
    'envoy-gateway': ['EnvoyExtensionPolicy', 'EnvoyPatchPolicy'],
  };
  for (const [target, classes] of Object.entries(expected)) {
    const urls = loaded(['render', '--target', target]);
    t.ok(
      urls.some((url) => url.includes('/dist/renderers/render.js')),
      `${target}: the hook saw render's modules`,
    );
    t.same(
      urls.filter((url) => url.includes('@kubernetes/client-node')),
      [],
      `${target}: no @kubernetes/client-node`,
    );
    t.same(models(urls), classes, `${target}: model classes ${classes.join(', ')}`);
  }
  const waypoint = loaded(['render', '--shape', 'waypoint', '--mesh-version', 'ossm-3.0']);
  t.same(models(waypoint), ['EnvoyFilter', 'WasmPlugin'], 'an ossm waypoint also renders its EnvoyFilter');
  const oclif = loaded(['render', '--target', 'envoy-gateway'], { MESHWASM_OCLIF: '1' });
  t.same(models(oclif), expected['envoy-gateway'], 'the oclif path loads the same model classes');
  const help = loaded(['render', '--help']);
  t.same(
    help.filter((url) => /renderers\/(render|validate|model)\.js|handlebars|@kubernetes-models/.test(url)),
    [],
    '--help loads no renderer',
  );
});

t.test(
  'load-module: require() where Node has it, import() otherwise, the same module either way',
  async (t) => {
    // From dist/, as the CLI runs: the class is required (it lands in the CommonJS cache), and with
    // require(esm) switched off the import() path yields the very same class.
    const script = `
    import {createRequire} from 'node:module'
    const cache = createRequire(process.cwd() + '/').cache
    const {MODEL_CLASSES} = await import('./dist/renderers/model-classes.js')
    const required = await MODEL_CLASSES.EnvoyPatchPolicy.load()
    const inCache = Object.keys(cache).some((file) => file.endsWith('/EnvoyPatchPolicy.js'))
    Object.defineProperty(process.features, 'require_module', {value: false, configurable: true})
    const imported = await MODEL_CLASSES.EnvoyPatchPolicy.load()
    console.log(JSON.stringify({inCache, same: imported === required, name: required.name}))`;
    const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      cwd: ROOT,
      env: cleanEnv(),
      encoding: 'utf8',
    });
    t.equal(result.status, 0, result.stderr);
    t.same(JSON.parse(result.stdout), { inCache: true, same: true, name: 'EnvoyPatchPolicy' });
    // From the TypeScript sources (tests), import(): only the test runner's hooks load .ts files.
    const { loadModule } = await import('../renderers/load-module.js');
    t.equal(
      await loadModule(new URL('../renderers/settings.js', import.meta.url)),
      await import('../renderers/settings.js'),
    );
  },
);

// Compilers whose output the build ships precompiled (renderers/precompiled.ts), and oclif.
const NOT_ON_THE_LEAN_PATH =
  /@oclif\/core|handlebars\/dist\/cjs\/handlebars(\.js|\/compiler)|ajv\/dist\/(ajv|core)\.js/;

t.test('render through the lean entry loads neither oclif nor a compiler', async (t) => {
  for (const target of ['ossm', 'envoyfilter', 'envoy-gateway']) {
    const urls = loaded(['render', '--target', target]);
    t.ok(
      urls.some((url) => url.includes('/dist/cli/render-main.js')),
      `${target}: the lean entry ran`,
    );
    t.same(
      urls.filter((url) => NOT_ON_THE_LEAN_PATH.test(url)),
      [],
      `${target}: no oclif, no handlebars compiler, no ajv compiler`,
    );
  }
  const oclif = loaded(['render'], { MESHWASM_OCLIF: '1' });
  t.ok(
    oclif.some((url) => url.includes('@oclif/core')),
    'the log does see oclif (CommonJS) when it loads',
  );
});

t.test('oclif.manifest.json ships and lists the commands with every flag', async (t) => {
  const manifest = JSON.parse(readFileSync(join(ROOT, 'oclif.manifest.json'), 'utf8')) as {
    commands: Record<string, { flags: Record<string, { env?: string }>; args?: Record<string, unknown> }>;
  };
  t.ok(manifest.commands.render, 'render');
  t.ok(manifest.commands.validate, 'validate');
  for (const setting of SETTINGS)
    t.equal(
      manifest.commands.render.flags[setting.flag]?.env,
      envName(setting),
      `--${setting.flag} with ${envName(setting)}`,
    );
  t.ok(manifest.commands.render.flags.values && manifest.commands.render.flags['print-values']);
  t.ok(manifest.commands.validate.args?.file);
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { files: string[] };
  t.ok(pkg.files.includes('/oclif.manifest.json'), 'package.json ships the manifest');
  t.ok(pkg.files.includes('/renderers'), 'package.json ships the templates (renderers/**/*.hbs)');
  t.ok(pkg.files.includes('/filter/config.schema.json'), 'package.json ships the filter schema');
});
