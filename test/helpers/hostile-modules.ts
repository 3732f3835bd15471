// Guest modules that do one hostile thing each, shared by the host tests and the real-Envoy
// comparison (the same bytes run in both, so "what Envoy does" is observed, not assumed).
import { ProxyModuleBuilder, slot } from './wasm-fixtures.js';

export type HostileCase =
  | 'status-99'
  | 'status-abc'
  | 'header-value-lf'
  | 'header-name-space'
  | 'local-0'
  | 'local-42'
  | 'local-99999'
  | 'local-header-lf'
  | 'request-header-lf';

/** A module that breaks the response of every stream in one way (see HostileCase). */
export function hostileModule(kind: HostileCase): Uint8Array {
  const b = new ProxyModuleBuilder();
  const pairs = (h: Array<[string, string]>) => b.pairs(h);
  const local = (status: number, headers: Array<[string, string]> = []) =>
    b.callback(
      'proxy_on_request_headers',
      [
        {
          call: 'proxy_send_local_response',
          args: [status, b.data('hostile'), b.data('local'), pairs(headers), -1],
          store: slot(0),
        },
      ],
      1,
    );
  const onResponse = (call: string, key: string, value: string) =>
    b.callback(
      'proxy_on_response_headers',
      [{ call, args: [2, b.data(key), b.data(value)], store: slot(0) }],
      0,
    );
  switch (kind) {
    case 'status-99':
      onResponse('proxy_replace_header_map_value', ':status', '99');
      break;
    case 'status-abc':
      onResponse('proxy_replace_header_map_value', ':status', 'abc');
      break;
    case 'header-value-lf':
      onResponse('proxy_add_header_map_value', 'x-bad', 'a\nb');
      break;
    case 'header-name-space':
      onResponse('proxy_add_header_map_value', 'bad name', 'v');
      break;
    case 'local-0':
      local(0);
      break;
    case 'local-42':
      local(42);
      break;
    case 'local-99999':
      local(99999);
      break;
    case 'request-header-lf':
      b.callback(
        'proxy_on_request_headers',
        [{ call: 'proxy_add_header_map_value', args: [0, b.data('x-bad'), b.data('a\nb')], store: slot(0) }],
        0,
      );
      break;
    case 'local-header-lf':
      local(403, [['x-bad', 'a\nb']]);
      break;
  }
  b.callback('proxy_on_done');
  b.callback('proxy_on_delete');
  return b.build();
}

/**
 * A module whose every request makes one callout to cluster "rec" with the given headers and
 * then continues (async). It logs proxy_http_call's result as that many '#' after "call result:",
 * and "callout response" + '#' x header count when the response arrives.
 */
export function calloutModule(headers: Array<[string, string]>): Uint8Array {
  const b = new ProxyModuleBuilder();
  const hashes = b.data('#'.repeat(32));
  b.callback(
    'proxy_on_request_headers',
    [
      {
        call: 'proxy_http_call',
        args: [b.data('rec'), b.pairs(headers), b.data(''), b.data(''), 2000, slot(1)],
        store: slot(0),
      },
      { log: 'call result:' },
      { call: 'proxy_log', args: [2, hashes.ptr, { load: slot(0) }], store: slot(2) },
    ],
    0,
  );
  b.callback('proxy_on_http_call_response', [
    { storeParam: 2, at: slot(3) },
    { log: 'callout response' },
    { call: 'proxy_log', args: [2, hashes.ptr, { load: slot(3) }], store: slot(4) },
    { call: 'proxy_get_header_map_value', args: [6, b.data(':status'), slot(6), slot(7)], store: slot(5) },
    { log: 'status:' },
    { call: 'proxy_log', args: [2, { load: slot(6) }, { load: slot(7) }], store: slot(8) },
    { call: 'proxy_get_buffer_bytes', args: [4, 0, 4096, slot(10), slot(11)], store: slot(9) },
    { log: 'body:' },
    { call: 'proxy_log', args: [2, { load: slot(10) }, { load: slot(11) }], store: slot(12) },
  ]);
  b.callback('proxy_on_done');
  b.callback('proxy_on_delete');
  return b.build();
}
