// --output-dir touches only what meshwasm wrote: stale files of an earlier render are removed
// (they are listed in its kustomization.yaml), other files never are, planted links are not
// followed, everything is checked before anything is written, and impossible paths fail fast.
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';

import { cleanEnv, ROOT, runLean } from './helpers/render-run.js';

const scratch = mkdtempSync(join(tmpdir(), 'meshwasm-output-dir-'));
const WASMPLUGIN = 'wasmplugin-meshwasm-back-golang.yaml';
const EEP = 'envoyextensionpolicy-meshwasm-back-golang.yaml';
const EPP = 'envoypatchpolicy-meshwasm-back-python.yaml';

t.test('a second render removes the files of the first, and nothing else', async (t) => {
  const dir = join(scratch, 'again');
  t.equal((await runLean(['--output-dir', dir])).code, 0);
  writeFileSync(join(dir, 'README.md'), 'mine\n');
  writeFileSync(join(dir, 'wasmplugin-other.yaml'), 'mine too\n');
  const second = await runLean(['--target', 'envoy-gateway', '--output-dir', dir]);
  t.equal(second.code, 0, second.stderr);
  t.match(second.stderr, new RegExp(`removed .*${WASMPLUGIN} \\(written by an earlier render\\)`));
  t.same(readdirSync(dir).sort(), ['README.md', EEP, EPP, 'kustomization.yaml', 'wasmplugin-other.yaml']);
  t.equal(readFileSync(join(dir, 'README.md'), 'utf8'), 'mine\n');
  const third = await runLean(['--target', 'envoy-gateway', '--output-dir', dir, '-o', 'json']);
  t.equal(third.code, 0);
  t.same(
    readdirSync(dir).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml'),
    ['wasmplugin-other.yaml'],
  );
});

t.test('files meshwasm did not write are never overwritten', async (t) => {
  const dir = join(scratch, 'theirs');
  mkdirSync(dir);
  writeFileSync(join(dir, WASMPLUGIN), 'hand-edited\n');
  const r = await runLean(['--output-dir', dir]);
  t.equal(r.code, 2);
  t.match(
    r.stderr,
    /^Error: --output-dir: .*wasmplugin-meshwasm-back-golang\.yaml exists and was not written by meshwasm/,
  );
  t.equal(readFileSync(join(dir, WASMPLUGIN), 'utf8'), 'hand-edited\n');
  t.notOk(existsSync(join(dir, 'kustomization.yaml')));

  const kustomized = join(scratch, 'kustomized');
  mkdirSync(kustomized);
  writeFileSync(join(kustomized, 'kustomization.yaml'), 'resources:\n- deployment.yaml\n');
  const k = await runLean(['--output-dir', kustomized]);
  t.equal(k.code, 2);
  t.match(k.stderr, /kustomization\.yaml was not written by meshwasm; choose another directory/);
  t.same(readdirSync(kustomized), ['kustomization.yaml']);
});

t.test('planted symbolic links are neither followed nor written through', async (t) => {
  const outside = join(scratch, 'outside.txt');
  writeFileSync(outside, 'precious\n');
  const dir = join(scratch, 'links');
  t.equal((await runLean(['--output-dir', dir])).code, 0);
  const linked = join(dir, WASMPLUGIN);
  // An attacker replaces the earlier render's file with a link out of the folder.
  spawnSync('rm', [linked]);
  symlinkSync(outside, linked);
  const r = await runLean(['--output-dir', dir]);
  t.equal(r.code, 2);
  t.match(
    r.stderr,
    /wasmplugin-meshwasm-back-golang\.yaml is a symbolic link; meshwasm does not write through links/,
  );
  t.equal(readFileSync(outside, 'utf8'), 'precious\n');

  // A stale entry that became a link is removed as a link: its target stays.
  const eg = await runLean(['--target', 'envoy-gateway', '--output-dir', dir]);
  t.equal(eg.code, 0, eg.stderr);
  t.notOk(existsSync(linked));
  t.equal(readFileSync(outside, 'utf8'), 'precious\n', 'the link went, its target did not');

  const kdir = join(scratch, 'klink');
  mkdirSync(kdir);
  symlinkSync(outside, join(kdir, 'kustomization.yaml'));
  const k = await runLean(['--output-dir', kdir]);
  t.equal(k.code, 2);
  t.equal(readFileSync(outside, 'utf8'), 'precious\n');

  // The folder itself may be a link the user made.
  const real = join(scratch, 'real');
  mkdirSync(real);
  symlinkSync(real, join(scratch, 'alias'));
  t.equal((await runLean(['--output-dir', join(scratch, 'alias')])).code, 0);
  t.ok(existsSync(join(real, WASMPLUGIN)));
});

t.test('checked before anything is written: no half-writes, no raw EISDIR', async (t) => {
  const dir = join(scratch, 'half');
  mkdirSync(join(dir, EPP), { recursive: true });
  const r = await runLean(['--target', 'envoy-gateway', '--output-dir', dir]);
  t.equal(r.code, 2);
  t.match(
    r.stderr,
    /^Error: --output-dir: .*envoypatchpolicy-meshwasm-back-python\.yaml is a directory where meshwasm writes a file/,
  );
  t.notMatch(r.stderr, /EISDIR/);
  t.same(readdirSync(dir), [EPP], 'the first file was not written either');

  const file = join(scratch, 'a-file');
  writeFileSync(file, '');
  const notDir = await runLean(['--output-dir', join(file, 'sub')]);
  t.equal(notDir.code, 2);
  t.match(notDir.stderr, /a-file exists and is not a directory/);
});

t.test('/proc/self/x fails at once with exit 2 (no spin in mkdir)', async (t) => {
  if (!existsSync('/proc/self')) return t.skip('no /proc on this system');
  for (const path of ['/proc/self/x', '/proc/self/x/y']) {
    const result = spawnSync(
      process.execPath,
      [join(ROOT, 'bin', 'run.js'), 'render', '--output-dir', path],
      {
        env: cleanEnv(),
        encoding: 'utf8',
        // A generous bound that only a hang reaches; the run itself takes well under a second.
        timeout: 60_000,
      },
    );
    t.equal(result.status, 2, `${path}: ${result.stderr}`);
    t.match(
      result.stderr,
      /^Error: --output-dir: cannot create \/proc\/self\/x \(E[A-Z]+\); choose a writable directory\n$/,
    );
  }
});
