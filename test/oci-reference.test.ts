import t from 'tap';
import { formatReference, parseReference, registryApiHost } from '../oci/reference.js';

const digest = `sha256:${'ab'.repeat(32)}`;

t.test('normalises references the way docker and skopeo do', async (t) => {
  const cases: Array<[string, ReturnType<typeof parseReference>]> = [
    ['quay.io/team/filter:v1', { registry: 'quay.io', repository: 'team/filter', tag: 'v1' }],
    ['quay.io/team/filter', { registry: 'quay.io', repository: 'team/filter', tag: 'latest' }],
    ['127.0.0.1:5000/filter:dev', { registry: '127.0.0.1:5000', repository: 'filter', tag: 'dev' }],
    ['localhost/a/b/c', { registry: 'localhost', repository: 'a/b/c', tag: 'latest' }],
    ['filter', { registry: 'docker.io', repository: 'library/filter', tag: 'latest' }],
    ['team/filter:1.0', { registry: 'docker.io', repository: 'team/filter', tag: '1.0' }],
    ['index.docker.io/team/filter', { registry: 'docker.io', repository: 'team/filter', tag: 'latest' }],
    [`oci://ghcr.io/o/f@${digest}`, { registry: 'ghcr.io', repository: 'o/f', digest }],
    [`ghcr.io/o/f:v2@${digest}`, { registry: 'ghcr.io', repository: 'o/f', tag: 'v2', digest }],
    [
      'docker://Registry.Example:443/x_y__z-w.v:T_1',
      { registry: 'Registry.Example:443', repository: 'x_y__z-w.v', tag: 'T_1' },
    ],
    ['[::1]:5000/f:1', { registry: '[::1]:5000', repository: 'f', tag: '1' }],
  ];
  for (const [input, expected] of cases) t.same(parseReference(input), expected, input);
});

t.test('formats back to a reference every target parses', async (t) => {
  t.equal(formatReference(parseReference('quay.io/team/filter')), 'quay.io/team/filter:latest');
  t.equal(formatReference({ ...parseReference('quay.io/t/f:v1'), digest }), `quay.io/t/f:v1@${digest}`);
  t.equal(formatReference(parseReference(`quay.io/t/f@${digest}`)), `quay.io/t/f@${digest}`);
  t.equal(registryApiHost('docker.io'), 'registry-1.docker.io');
  t.equal(registryApiHost('quay.io'), 'quay.io');
});

t.test('malformed references fail with the reason', async (t) => {
  const bad: Array<[string, RegExp]> = [
    ['', /empty/],
    ['   ', /empty/],
    ['quay.io/team filter', /whitespace/],
    ['https://quay.io/team/filter', /not a URL/],
    ['quay.io/Team/filter', /must be lowercase/],
    ['quay.io/team/filter:', /bad tag ""/],
    ['quay.io/team/filter:-x', /bad tag "-x"/],
    [`quay.io/team/filter:${'a'.repeat(129)}`, /bad tag/],
    ['quay.io/team/filter@sha256:abc', /bad digest/],
    [`quay.io/team/filter@md5:${'a'.repeat(32)}`, /bad digest/],
    ['quay.io/team//filter', /bad repository path component ""/],
    ['quay.io/team/fil..ter', /bad repository path component "fil..ter"/],
    ['quay.io/', /repository name is missing/],
    [':tag', /repository name is missing/],
    ['bad_host.io/x', /bad registry host "bad_host.io"/],
    [`quay.io/${'a/'.repeat(130)}b`, /longer than 255/],
  ];
  for (const [input, message] of bad) {
    t.throws(() => parseReference(input), { code: 'EREF', message }, JSON.stringify(input));
  }
});
