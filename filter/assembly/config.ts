// The plugin configuration: one JSON object, validated as filter/config.schema.json describes.
// Runs only in proxy_on_configure. A problem is reported as "<field>: <problem>"; the caller logs it
// once at critical level and makes proxy_on_configure return false. Nothing here can trap.
//
// Written in a table-driven, allocation-free style (values are slices of the retained configuration
// buffer, kept in static tables) because every managed object and code path costs module size, and
// the module has a 24 KiB budget.

import {
  jsonBegin,
  jsonError,
  jsonFail,
  jsonKey,
  jsonNext,
  jsonNumber,
  jsonPeek,
  jsonSkip,
  jsonString,
  strLen,
  strPtr,
} from './json';

// Field ids: positions in FIELDS and in the tables below.
export const enum F {
  Cluster,
  Authority,
  Method,
  Path,
  TimeoutMs,
  Headers,
  Body,
  Trigger,
  Mode,
  FailureStatus,
  FanOut,
  OutcomeHeader,
  PropagateHeaders,
  MaxInFlight,
  SampleRate,
}
// '\0'-separated lists: one literal costs less than an array of them.
const FIELDS =
  'cluster\0authority\0method\0path\0timeoutMs\0headers\0body\0trigger\0mode\0failureStatus\0fanOut\0outcomeHeader\0propagateHeaders\0maxInFlight\0sampleRate';
const ENUMS = 'request\0response\0async\0blocking'; // trigger 0/1, mode 0/1

// Kinds: string, integer, number, object of strings, array of strings.
const STR: u8 = 0,
  INT: u8 = 1,
  NUM: u8 = 2,
  OBJ: u8 = 3,
  ARR: u8 = 4;
// Content rules for strings (index into RULE_TEXT).
const ANY: u8 = 0,
  NO_CTL: u8 = 1,
  UPPER: u8 = 2,
  PATH: u8 = 3,
  TOKEN: u8 = 4,
  ENUM: u8 = 5,
  VALUE: u8 = 6;

const KIND = memory.data<u8>([STR, STR, STR, STR, INT, OBJ, STR, STR, STR, INT, INT, STR, ARR, INT, NUM]);
const RULE = memory.data<u8>([
  ANY,
  NO_CTL,
  UPPER,
  PATH,
  ANY,
  ANY,
  ANY,
  ENUM,
  ENUM,
  ANY,
  ANY,
  TOKEN,
  ANY,
  ANY,
  ANY,
]);
const MIN = memory.data<i32>([1, 1, 1, 1, 1, 0, 0, 1, 1, 0, 0, 0, 0, 1, 0]);
const MAX = memory.data<i32>([512, 512, 16, 2048, 600000, 64, 65536, 8, 8, 599, 64, 256, 64, 1000000, 1]);
const DEFAULT_NUM = memory.data<f64>([0, 0, 0, 0, 5000, 0, 0, 0, 0, 0, 1, 0, 0, 1024, 1]);

const MUST = ': must be ';
const NO_CONTROL = ' without control characters';
const HEADER_NAME = 'a lower-case header name (RFC 9110 token) of at most 256 characters';
const RULE_TEXT: string[] = ['', NO_CONTROL, ' of letters A-Z', " starting with '/'," + NO_CONTROL];

// ---- The parsed values ----------------------------------------------------------------------
// Strings: (ptr, len) by field id, pointing into the retained configuration buffer; len -1 = unset.
const STR_PTR = memory.data(15 * 4);
const STR_LEN = memory.data(15 * 4);
// Numbers by field id (enums as 0/1).
const NUM_VAL = memory.data(15 * 8);
// headers: name, value, name, value... ; propagateHeaders: names. (ptr, len) each.
export const HEADER_LIST = memory.data(128 * 8);
export let headerEntries: u32 = 0;
export const PROPAGATE_LIST = memory.data(64 * 8);
export let propagateEntries: i32 = -1; // -1 = not configured (the default allowlist applies)

let configBuffer = new ArrayBuffer(0); // the string values live in it; kept until the next configure
export let warnings: string[] = [];

export function strOf(id: F): usize {
  return load<u32>(STR_PTR + ((<usize>id) << 2));
}
export function lenOf(id: F): i32 {
  return load<i32>(STR_LEN + ((<usize>id) << 2));
}
export function numOf(id: F): f64 {
  return load<f64>(NUM_VAL + ((<usize>id) << 3));
}

/**
 * Parses and validates the raw PluginConfiguration bytes (which it keeps and decodes in place).
 * 0 bytes, blanks and {} mean every default. Returns "" or "<field>: <problem>".
 */
export function parseConfig(bytes: ArrayBuffer): string {
  configBuffer = bytes;
  memory.copy(NUM_VAL, DEFAULT_NUM, 15 * 8);
  memory.fill(STR_LEN, 0xff, 15 * 4);
  headerEntries = 0;
  propagateEntries = -1;
  warnings = [];
  jsonBegin(bytes);
  let error = '';
  const c = jsonPeek();
  if (c != 0) {
    if (c != 0x7b) return 'configuration' + MUST + 'a JSON object';
    jsonSkip();
    for (let first = true; error.length == 0 && jsonNext(first, 0x7d); first = false) {
      if (jsonKey()) error = readField();
    }
    if (error.length == 0 && jsonError.length == 0 && jsonPeek() != 0)
      jsonFail('unexpected data after the object');
    if (jsonError.length > 0) return jsonError; // a syntax error outranks what it caused
    if (error.length > 0) return error;
    if (numOf(F.Mode) == 1 && numOf(F.FanOut) == 0) return 'fanOut' + MUST + 'at least 1 in blocking mode';
  }
  if (lenOf(F.Cluster) < 0)
    warnings.push('meshwasm: no cluster configured: passing traffic through without callouts');
  if (numOf(F.Mode) == 0 && (numOf(F.FailureStatus) != 0 || lenOf(F.OutcomeHeader) >= 0)) {
    warnings.push('meshwasm: failureStatus and outcomeHeader are ignored in async mode');
  }
  return '';
}

// Reads the value of the member whose name is in strPtr/strLen; returns "" or the problem.
function readField(): string {
  const namePtr = strPtr;
  const nameLen = strLen;
  const id = listIndex(FIELDS, namePtr, nameLen);
  if (id < 0) return quoted(namePtr, nameLen) + ': unknown field (see filter/config.schema.json)';
  const kind = load<u8>(KIND + id);
  const rule = load<u8>(RULE + id);
  const min = load<i32>(MIN + (id << 2));
  const max = load<i32>(MAX + (id << 2));
  const c = jsonPeek();
  let ok = false;
  if (kind == STR) {
    ok = c == 0x22 && jsonString() && check(min, max, rule);
    if (ok && rule == ENUM) {
      const at = listIndex(ENUMS, strPtr, strLen) - (id - F.Trigger) * 2;
      ok = at == 0 || at == 1;
      store<f64>(NUM_VAL + (id << 3), <f64>at);
    } else if (ok) {
      store<u32>(STR_PTR + (id << 2), strPtr);
      store<u32>(STR_LEN + (id << 2), strLen);
    }
  } else if (kind == OBJ || kind == ARR) {
    const problem = readList(kind == OBJ);
    if (problem.length > 1) return problem;
    ok = problem.length == 0 && (kind == OBJ ? headerEntries >> 1 : <u32>propagateEntries) <= <u32>max;
  } else if (c == 0x2d || (c >= 0x30 && c <= 0x39)) {
    const n = jsonNumber();
    ok =
      n >= <f64>min &&
      n <= <f64>max &&
      (kind == NUM || Math.floor(n) == n) &&
      !(id == F.FailureStatus && n > 0 && n < 200);
    store<f64>(NUM_VAL + (id << 3), n);
  }
  if (ok || jsonError.length > 0) return '';
  let expect: string;
  if (kind == INT) {
    const failure = id == F.FailureStatus;
    expect =
      (failure ? '0 or ' : '') +
      'an integer between ' +
      (failure ? 200 : min).toString() +
      ' and ' +
      max.toString();
  } else if (kind == NUM) {
    expect = 'a number between 0 and 1';
  } else if (kind == OBJ) {
    expect = 'an object of at most 64 header names to strings';
  } else if (kind == ARR) {
    expect = 'an array of at most 64 header names';
  } else if (rule == TOKEN) {
    expect = 'empty or ' + HEADER_NAME;
  } else if (rule == ENUM) {
    expect = id == F.Trigger ? '"request" or "response"' : '"async" or "blocking"';
  } else {
    expect =
      (min > 0 ? 'a non-empty string' : 'a string') +
      ' of at most ' +
      max.toString() +
      ' characters' +
      RULE_TEXT[rule];
  }
  return String.UTF8.decodeUnsafe(namePtr, nameLen) + MUST + expect; // the name is one of FIELDS (ASCII)
}

// headers (object of name -> value) or propagateHeaders (array of names); "" when fine, "?" for a
// value of the wrong type (the caller words it), otherwise the problem.
function readList(object: bool): string {
  if (jsonPeek() != (object ? 0x7b : 0x5b)) return '?';
  jsonSkip();
  const list = object ? HEADER_LIST : PROPAGATE_LIST;
  const limit: u32 = object ? 128 : 64;
  let n: u32 = 0;
  let problem = '';
  for (let first = true; jsonNext(first, object ? 0x7d : 0x5d); first = false) {
    if (!(object ? jsonKey() : jsonPeek() == 0x22 && jsonString()) || !check(1, 256, TOKEN)) {
      problem = object
        ? 'headers: ' + quoted(strPtr, strLen) + ' is not ' + HEADER_NAME
        : 'propagateHeaders[' + n.toString() + ']' + MUST + HEADER_NAME + ", optionally ending in '*'";
      break;
    }
    let at = n;
    if (object) {
      // A repeated name keeps its last value, as JSON.parse does.
      for (let i: u32 = 0; i < n; i += 2) {
        if (
          load<u32>(list + i * 8 + 4) == strLen &&
          memory.compare(load<u32>(list + i * 8), strPtr, strLen) == 0
        )
          at = i;
      }
    }
    if (at < limit) {
      store<u32>(list + at * 8, strPtr);
      store<u32>(list + at * 8 + 4, strLen);
    }
    if (object) {
      const name = quoted(strPtr, strLen);
      if (!(jsonPeek() == 0x22 && jsonString() && check(0, 8192, VALUE))) {
        problem = 'headers.' + name + MUST + 'a string of at most 8192 characters' + NO_CONTROL;
        break;
      }
      if (at + 1 < limit) {
        store<u32>(list + at * 8 + 8, strPtr);
        store<u32>(list + at * 8 + 12, strLen);
      }
      if (at == n) n += 2;
    } else {
      n++;
    }
  }
  if (jsonError.length > 0) return '';
  if (object) headerEntries = n;
  else propagateEntries = n;
  return problem;
}

// Checks the last string read: length in code points (as JSON Schema counts) and the content rule.
function check(min: i32, max: i32, rule: u8): bool {
  const p = strPtr;
  const len = strLen;
  let n = 0;
  for (let i: u32 = 0; i < len; i++) {
    const c = <u32>load<u8>(p + i);
    if ((c & 0xc0) != 0x80) n++; // not a UTF-8 continuation byte
    if (rule == TOKEN) {
      // RFC 9110 tchar in lower case: a-z 0-9 ! # $ % & ' * + - . ^ _ ` | ~
      if (!(
        (c >= 0x61 && c <= 0x7a) ||
        (c >= 0x30 && c <= 0x39) ||
        c == 0x21 ||
        (c >= 0x23 && c <= 0x27) ||
        c == 0x2a ||
        c == 0x2b ||
        c == 0x2d ||
        c == 0x2e ||
        c == 0x5e ||
        c == 0x5f ||
        c == 0x60 ||
        c == 0x7c ||
        c == 0x7e
      ))
        return false;
    } else if (rule == UPPER) {
      if (c < 0x41 || c > 0x5a) return false;
    } else if (rule != ANY && rule != ENUM && ((c < 0x20 && !(rule == VALUE && c == 0x09)) || c == 0x7f)) {
      return false; // CR, LF, NUL... would break the request line or a header (HTAB is legal in values)
    }
  }
  if (rule == PATH && (len == 0 || load<u8>(p) != 0x2f)) return false;
  return n >= min && n <= max;
}

/** Index of the entry of the '\0'-separated ASCII `list` equal to [p, p+len); -1 if none. */
export function listIndex(list: string, p: usize, len: u32): i32 {
  let index = 0;
  let at = 0;
  const n = list.length;
  while (at <= n) {
    let e = at;
    while (e < n && list.charCodeAt(e) != 0) e++;
    if (<u32>(e - at) == len) {
      let i: u32 = 0;
      while (i < len && <i32>load<u8>(p + i) == list.charCodeAt(at + i)) i++;
      if (i == len) return index;
    }
    at = e + 1;
    index++;
  }
  return -1;
}

// Bytes from the configuration, quoted and safe to print in one log line.
function quoted(p: usize, len: u32): string {
  let out = '"';
  for (let i: u32 = 0; i < len && i < 64; i++) {
    const c = load<u8>(p + i);
    out += c < 0x20 || c >= 0x7f || c == 0x22 ? '?' : String.fromCharCode(c);
  }
  return out + '"';
}
