// Strings that mean something to YAML (1.1 or 1.2), to handlebars or to a shell: the values the
// encoder and the renderers must carry through as plain data.
export const HOSTILE = [
  'yes', 'no', 'on', 'off', 'y', 'N', 'True', 'FALSE', 'null', 'Null', '~', '', ' ', 'nan', '.inf', '-.inf', '.NaN',
  '0', 'e5', 'E12', '012', '0o17', '0x1F', '0b101', '1_000', '1e3', '1.0', '+1', '-1', '12:30:00', '2024-01-01', '1.2.3',
  '- item', '? key', ': value', 'a: b', 'a:b', 'key: value # comment', '#', '# not a comment', 'a #b', 'a#b',
  '{a: b}', '[1, 2]', '&anchor', '*alias', '!tag', '!!str', '%YAML 1.2', '---', '...', '--- x', '@at', '`tick`',
  '|', '>', '|-', '"', "'", '"quoted"', "'single'", '\\', '\\n', 'trailing ', ' leading', '\ttab', 'line1\nline2',
  'cr\rlf', 'ünïcödé', '😀 emoji', '\u0085nel', '\u2028ls', '\u2029ps', '\u00a0nbsp', '\ufeffbom', '\u007fdel', '\u0001soh',
  '{{yaml x}}', '{{{x}}}', '${VAR}', '</script>', '=', '<<', 'a,b', 'outbound|8444||back-python.jump-app-dev.svc.cluster.local',
  'oci://quay.io/meshwasm/callout-filter:0.1.0', '/jump?x=a: b#c', 'x: "1"\ny: 2',
]
