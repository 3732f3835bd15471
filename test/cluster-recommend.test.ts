// The pure parts of the cluster commands: what detect recommends for each combination of findings
// (the API-server tests cover how the findings are read), and how Warning headers are parsed.
import t from 'tap';

import { warningTexts } from '../cluster/connection.js';
import { type Detection, formatDetection, recommend } from '../cluster/detect.js';

const istio = (version?: string) => ({
  namespace: 'istio-system',
  name: 'istiod',
  image: `pilot:${version}`,
  version,
});
const eg = (version: string | undefined, envoyPatchPolicy: boolean) => ({
  namespace: 'envoy-gateway-system',
  name: 'envoy-gateway',
  image: `gateway:${version}`,
  version,
  envoyPatchPolicy,
});

t.test('recommendations', async (t) => {
  const cases: [string, Omit<Detection, 'notes'>, object | undefined, RegExp?][] = [
    [
      'upstream Istio',
      { istio: istio('1.30.0') },
      { target: 'ossm', shape: 'sidecar', meshVersion: 'istio-1.30' },
    ],
    [
      'ambient',
      { istio: istio('1.28.1'), ambient: { namespace: 'istio-system', name: 'ztunnel' } },
      { shape: 'waypoint', meshVersion: 'istio-1.28' },
    ],
    [
      'Istio too old',
      { istio: istio('1.12.0') },
      undefined,
      /Istio 1\.12\.0 is not a version meshwasm renders for/,
    ],
    ['Istio without a tag', { istio: istio(undefined) }, undefined, /Istio \(version unknown\)/],
    [
      'OSSM 2.5',
      { ossm2: { namespace: 'istio-system', name: 'basic', version: 'v2.5' } },
      { meshVersion: 'ossm-2.5' },
    ],
    [
      'OSSM 2.1',
      { ossm2: { namespace: 'istio-system', name: 'basic', version: 'v2.1' } },
      { meshVersion: 'ossm-2.5' },
      /version v2\.1, which meshwasm does not render for/,
    ],
    [
      'OSSM 3.4',
      { ossm3: { name: 'default', version: 'v1.30.1' }, istio: istio('1.30.1') },
      { meshVersion: 'ossm-3.4' },
    ],
    [
      'Sail with an Istio OSSM does not ship',
      { ossm3: { name: 'default', version: 'v1.29.0' } },
      { meshVersion: 'istio-1.29' },
    ],
    [
      'Istio and Envoy Gateway',
      { istio: istio('1.27.0'), envoyGateway: eg('v1.9.0', true) },
      { target: 'ossm' },
      /Envoy Gateway runs too/,
    ],
    [
      'Envoy Gateway of an unknown version',
      { envoyGateway: eg('v1.2.0', true) },
      { target: 'envoy-gateway', meshVersion: 'eg-1.9' },
      /Envoy Gateway v1\.2\.0 is not a version meshwasm knows/,
    ],
    [
      'Envoy Gateway without a tag',
      { envoyGateway: eg(undefined, false) },
      { meshVersion: 'eg-1.9' },
      /EnvoyPatchPolicy is disabled/,
    ],
    ['nothing', {}, undefined],
  ];
  for (const [name, found, expected, note] of cases) {
    const detection: Detection = { ...found, notes: [] };
    const got = recommend(detection);
    if (expected === undefined) t.equal(got, undefined, `${name}: no recommendation`);
    else t.match(got, expected, name);
    if (note) t.match(detection.notes.join('\n'), note, `${name}: note`);
    else if (!/Gateway runs too/.test(name)) t.same(detection.notes, [], `${name}: no note`);
    detection.recommendation = got;
    t.match(
      formatDetection(detection),
      got ? /recommended: --target/ : /no mesh found|note:/,
      `${name}: report`,
    );
  }
  t.match(
    formatDetection({ ossm2: { namespace: 'n', name: 'basic' }, ossm3: { name: 'default' }, notes: [] }),
    /version \(unset\)[\s\S]*version \(unset\)/,
  );
});

t.test('Warning headers: one or several, quoted text with escapes', async (t) => {
  t.same(warningTexts(undefined), []);
  t.same(warningTexts('299 - "unknown field \\"spec.x\\""'), ['unknown field "spec.x"']);
  t.same(warningTexts(['299 - "a"', '299 - "b", 299 - "c"']), ['a', 'b', 'c']);
});
