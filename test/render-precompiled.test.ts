// The build's precompiled artifacts (renderers/precompiled.ts): the filter-configuration validator
// as ajv standalone code and the templates as precompiled handlebars. They must change nothing but
// speed: the shipped CLI (dist/, which uses them) renders every golden byte for byte, the standalone
// validator reports exactly what ajv compiled at run time reports, and an artifact that does not
// match its sources is never used. The dist/ artifacts are checked in a fresh process running
// dist/, as the CLI does; the consumer logic in-process, on artifacts written to a scratch
// directory (code run from the sources never reads dist/precompiled).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';

import { compileValidator, FILTER_VALIDATOR_FILE, precompiledValidator } from '../renderers/filter-schema.js';
import { templateIds, writePrecompiled } from '../renderers/precompile.js';
import { builtArtifactsDir } from '../renderers/precompiled.js';
import {
  precompiledTemplate,
  precompileTemplate,
  renderTemplate,
  TEMPLATES_FILE,
} from '../renderers/templates.js';
import { GOLDEN_CASES } from './helpers/render-cases.js';
import { cleanEnv, mapLimit, ROOT, runCliAsync } from './helpers/render-run.js';

/** Filter configurations, valid and not, with every kind of schema complaint. */
const CONFIGS: unknown[] = [
  {},
  {
    cluster: 'outbound|8444||back-python.jump-app-dev.svc.cluster.local',
    method: 'GET',
    path: '/jump',
    timeoutMs: 5000,
  },
  { cluster: '', path: 'jump', method: 'get', timeoutMs: -1, fanOut: 1000, sampleRate: 2 },
  { mode: 'blocking', fanOut: 0, failureStatus: 99 },
  { headers: { 'x-a': 'b\r\nc', '': 'v' }, propagateHeaders: ['x-*', 3], body: 5 },
  { unknown: true, authority: 'a\u0000b' },
  { trigger: 'sometimes', outcomeHeader: 'Bad Header' },
  [],
  'cluster',
  null,
];

/** A scratch artifact directory; the standalone code requires ajv's runtime helpers, found through node_modules as from dist/. */
function artifactsDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'meshwasm-precompiled-'));
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
  return dir;
}

const ajvResults = () => {
  const { validate } = compileValidator();
  return CONFIGS.map((config) => (validate(config) ? [] : validate.errors));
};

t.test('the shipped CLI renders every golden byte for byte', async (t) => {
  const results = await mapLimit(GOLDEN_CASES, 2, (c) => runCliAsync(['render', ...c.args]));
  GOLDEN_CASES.forEach((c, i) => {
    t.equal(results[i].code, 0, `${c.name}: ${results[i].stderr}`);
    t.equal(results[i].stdout, readFileSync(join(ROOT, 'test', 'golden', `${c.name}.yaml`), 'utf8'), c.name);
  });
});

t.test('dist/ uses the build’s artifacts, and the standalone validator agrees with ajv', async (t) => {
  // Runs the shipped modules (dist/) in a fresh process, as the CLI does.
  const script = `
    import {readFileSync} from 'node:fs'
    const schema = await import('./dist/renderers/filter-schema.js')
    const templates = await import('./dist/renderers/templates.js')
    const {builtArtifactsDir} = await import('./dist/renderers/precompiled.js')
    const configs = JSON.parse(process.argv[1])
    const validate = schema.precompiledValidator()
    console.log(JSON.stringify({
      dir: builtArtifactsDir(),
      templates: JSON.parse(process.argv[2]).filter((id) => templates.precompiledTemplate(id, readFileSync('renderers/' + id + '.hbs', 'utf8'))),
      standalone: validate && configs.map((config) => (validate(config) ? [] : validate.errors)),
    }))`;
  const ids = templateIds();
  const result = spawnSync(
    process.execPath,
    ['--input-type=module', '-e', script, JSON.stringify(CONFIGS), JSON.stringify(ids)],
    { cwd: ROOT, env: cleanEnv(), encoding: 'utf8' },
  );
  t.equal(result.status, 0, result.stderr);
  const shipped = JSON.parse(result.stdout) as {
    dir: string;
    templates: string[];
    standalone: unknown[] | undefined;
  };
  t.equal(shipped.dir, join(ROOT, 'dist', 'precompiled'), 'code running from dist/ reads dist/precompiled');
  t.same(
    shipped.templates,
    ids,
    'every template is precompiled from its current source (npm run build precompiles)',
  );
  t.ok(ids.length >= 4, `${ids.length} templates`);
  t.same(
    shipped.standalone,
    ajvResults(),
    'the standalone validator is current and reports what ajv reports',
  );
});

t.test('artifacts are used only when they match their sources exactly', async (t) => {
  t.equal(builtArtifactsDir(), undefined, 'run from the sources, the renderers compile for themselves');
  t.equal(precompiledValidator(), undefined);
  t.equal(precompiledTemplate('istio/wasmplugin', 'x'), undefined);

  const dir = artifactsDir();
  t.same(
    writePrecompiled(dir).map((file) => file.slice(dir.length + 1)),
    [FILTER_VALIDATOR_FILE, TEMPLATES_FILE],
  );
  const validate = precompiledValidator(dir);
  t.ok(validate, 'a current validator is used');
  t.same(
    CONFIGS.map((config) => (validate!(config) ? [] : validate!.errors)),
    ajvResults(),
    'and reports what ajv reports',
  );
  const source = readFileSync(join(ROOT, 'renderers', 'istio', 'wasmplugin.hbs'), 'utf8');
  const template = precompiledTemplate('istio/wasmplugin', source, dir);
  t.ok(template, 'a current template is used');
  const context = {
    name: 'n',
    namespace: 'ns',
    labels: { a: 'b' },
    selector: { app: 'x' },
    targetRef: null,
    targetRefs: null,
    match: [{ mode: 'SERVER' }],
    url: 'oci://r/x:1',
    sha256: null,
    imagePullPolicy: null,
    imagePullSecret: null,
    phase: 'STATS',
    priority: null,
    failStrategy: null,
    pluginName: 'meshwasm',
    pluginConfig: { cluster: 'c' },
  };
  t.equal(
    template!(context),
    renderTemplate('istio/wasmplugin', context),
    'and renders what the runtime-compiled template renders',
  );
  t.equal(
    precompiledTemplate('istio/wasmplugin', `${source}# edited\n`, dir),
    undefined,
    'an edited template is compiled, not taken from a stale artifact',
  );
  t.equal(
    precompiledTemplate('istio/unknown', source, dir),
    undefined,
    'a template the build did not see is compiled',
  );

  // Artifacts of another schema, and none at all (a fresh directory each: require caches by path).
  const stale = artifactsDir();
  writePrecompiled(stale);
  const validatorFile = join(stale, FILTER_VALIDATOR_FILE);
  writeFileSync(
    validatorFile,
    readFileSync(validatorFile, 'utf8').replace(
      /^module\.exports\.key = .*$/m,
      `module.exports.key = ${JSON.stringify(JSON.stringify(['another schema']))};`,
    ),
  );
  t.equal(precompiledValidator(stale), undefined, 'a validator generated from another schema is not used');
  const empty = artifactsDir();
  t.equal(precompiledValidator(empty), undefined, 'no artifact, no validator from it');
  t.equal(
    precompiledTemplate('istio/wasmplugin', source, empty),
    undefined,
    'no artifact, no template from it',
  );
});

t.test('the build refuses a template that prints a raw value', async (t) => {
  t.throws(
    () => precompileTemplate('a: {{value}}\n', 'renderers/bad.hbs'),
    /renderers\/bad\.hbs:1: \{\{value\}\} prints a value without the yaml encoder/,
  );
  t.match(precompileTemplate('a: {{yaml value}}\n', 'renderers/good.hbs'), /yaml/);
});
