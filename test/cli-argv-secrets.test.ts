// bin/run.js hides --creds values from argv before oclif (and its DEBUG log) sees them; the push
// command gets them back through revealSecret. The end-to-end check (DEBUG=* push) is in
// test/oci-hostile-registry.test.ts; this one runs the module in-process, for its edge cases.
import t from 'tap';

import { hideSecretFlags, PLACEHOLDER, revealSecret } from '../cli/lib/argv-secrets.js';

t.test('--creds VALUE and --creds=VALUE are replaced, and given back to the command', async (t) => {
  const argv = ['node', 'run.js', 'push', 'r/x:v1', '--creds', 'u:p1', '--insecure'];
  hideSecretFlags(argv);
  t.same(argv, ['node', 'run.js', 'push', 'r/x:v1', '--creds', PLACEHOLDER, '--insecure']);
  t.equal(revealSecret('creds', PLACEHOLDER), 'u:p1');

  const inline = ['push', '--creds=u:p=2'];
  hideSecretFlags(inline);
  t.same(inline, ['push', `--creds=${PLACEHOLDER}`]);
  t.equal(revealSecret('creds', PLACEHOLDER), 'u:p=2', 'everything after the first "=" is the value');
});

t.test('what is not a secret flag value is left alone', async (t) => {
  const argv = ['push', 'r/x:v1', '--', '--creds', 'literal', '--credsx'];
  hideSecretFlags(argv);
  t.same(argv, ['push', 'r/x:v1', '--', '--creds', 'literal', '--credsx'], 'after -- nothing is a flag');
  const last = ['push', '--creds'];
  hideSecretFlags(last);
  t.same(last, ['push', '--creds'], 'a missing value stays missing (oclif reports it)');
  t.equal(revealSecret('creds', 'u:p'), 'u:p', 'a value oclif got directly passes through');
  t.equal(revealSecret('creds', undefined), undefined);
});
