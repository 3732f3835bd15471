// A minimal pull reader for JSON in UTF-8, used only inside proxy_on_configure. Strings come back
// as UTF-8 bytes inside the input buffer (decoded in place) because that is what the proxy-wasm
// calls take; there is no value tree. It uses nothing from the AssemblyScript JS loader (no env.* imports) and never throws: the
// first problem is kept in `jsonError` and every later read fails.

let src: usize = 0;
let pos: u32 = 0;
let end: u32 = 0;
export let jsonError: string = '';

export function jsonBegin(data: ArrayBuffer): void {
  src = changetype<usize>(data);
  pos = 0;
  end = data.byteLength;
  jsonError = '';
}

export function jsonFail(message: string): void {
  if (jsonError.length == 0) jsonError = 'not valid JSON at byte ' + pos.toString() + ': ' + message;
}

/** Skips whitespace and returns the next byte without consuming it; 0 at the end of input. */
export function jsonPeek(): u32 {
  while (pos < end) {
    const c = <u32>load<u8>(src + pos);
    if (c != 0x20 && c != 0x09 && c != 0x0a && c != 0x0d) return c;
    pos++;
  }
  return 0;
}

/** Consumes one byte (after a jsonPeek). */
export function jsonSkip(): void {
  pos++;
}

/**
 * In an object ('}') or array (']'): moves to the next member/element. `first` on the first call
 * after the opening bracket was consumed. False at the closing bracket or on error.
 */
export function jsonNext(first: bool, close: u32): bool {
  if (jsonError.length > 0) return false;
  let c = jsonPeek();
  if (c == close) {
    pos++;
    return false;
  }
  if (!first) {
    if (c != 0x2c) {
      jsonFail("expected ',' or '" + String.fromCharCode(close) + "'");
      return false;
    }
    pos++;
    if (jsonPeek() == close) {
      jsonFail("trailing ','");
      return false;
    }
  }
  return true;
}

/** Reads `"name":` in an object into strPtr/strLen. */
export function jsonKey(): bool {
  if (jsonPeek() != 0x22 || !jsonString()) {
    jsonFail('expected a member name');
    return false;
  }
  if (jsonPeek() != 0x3a) {
    jsonFail("expected ':'");
    return false;
  }
  pos++;
  return true;
}

// The last string read: UTF-8 bytes with escapes decoded, inside the input buffer.
export let strPtr: usize = 0;
export let strLen: u32 = 0;

/**
 * Reads a string (the next byte is '"'). Escapes are decoded in place, in the input buffer: the
 * decoded form is never longer than the JSON form, so writing never overtakes reading.
 */
export function jsonString(): bool {
  pos++;
  const out = src + pos;
  let n: u32 = 0;
  let pending: u32 = 0; // a high surrogate waiting for its low half
  while (true) {
    if (pos >= end) {
      jsonFail('unterminated string');
      return false;
    }
    let c = <u32>load<u8>(src + pos++);
    if (c == 0x22) break;
    if (c < 0x20) {
      pos--;
      jsonFail('control character in string');
      return false;
    }
    if (c != 0x5c) {
      store<u8>(out + n++, <u8>c);
      continue;
    }
    c = pos < end ? <u32>load<u8>(src + pos++) : 0;
    if (c == 0x62) c = 8;
    else if (c == 0x66) c = 12;
    else if (c == 0x6e) c = 10;
    else if (c == 0x72) c = 13;
    else if (c == 0x74) c = 9;
    else if (c == 0x75) {
      c = 0;
      for (let i = 0; i < 4; i++) {
        const h = pos < end ? (<u32>load<u8>(src + pos++)) | 0x20 : 0;
        const d = h >= 0x30 && h <= 0x39 ? h - 0x30 : h >= 0x61 && h <= 0x66 ? h - 0x57 : 16;
        if (d > 15) {
          jsonFail('bad \\u escape');
          return false;
        }
        c = (c << 4) | d;
      }
      if (c >= 0xd800 && c <= 0xdbff) {
        pending = c;
        continue;
      }
      if (c >= 0xdc00 && c <= 0xdfff && pending != 0) c = 0x10000 + ((pending - 0xd800) << 10) + (c - 0xdc00);
      else if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd; // lone surrogate
      pending = 0;
      n += utf8(out + n, c);
      continue;
    } else if (c != 0x22 && c != 0x5c && c != 0x2f) {
      pos -= 2;
      jsonFail('bad escape');
      return false;
    }
    store<u8>(out + n++, <u8>c);
  }
  strPtr = out;
  strLen = n;
  return true;
}

function utf8(p: usize, c: u32): u32 {
  if (c < 0x80) {
    store<u8>(p, c);
    return 1;
  }
  if (c < 0x800) {
    store<u8>(p, 0xc0 | (c >> 6));
    store<u8>(p, 0x80 | (c & 63), 1);
    return 2;
  }
  if (c < 0x10000) {
    store<u8>(p, 0xe0 | (c >> 12));
    store<u8>(p, 0x80 | ((c >> 6) & 63), 1);
    store<u8>(p, 0x80 | (c & 63), 2);
    return 3;
  }
  store<u8>(p, 0xf0 | (c >> 18));
  store<u8>(p, 0x80 | ((c >> 12) & 63), 1);
  store<u8>(p, 0x80 | ((c >> 6) & 63), 2);
  store<u8>(p, 0x80 | (c & 63), 3);
  return 4;
}

/** Reads a number (the next byte is '-' or a digit); NaN on error. */
export function jsonNumber(): f64 {
  const start = pos;
  let mantissa: f64 = 0;
  let scale: i32 = 0;
  let fraction = false;
  let c: u32 = load<u8>(src + pos);
  if (c == 0x2d) pos++;
  const first = pos;
  while (pos < end) {
    c = load<u8>(src + pos);
    if (c - 0x30 < 10) {
      mantissa = mantissa * 10 + <f64>(c - 0x30); // exact up to 15 digits; the fields need far fewer
      if (fraction) scale--;
    } else if (
      c == 0x2e &&
      !fraction &&
      pos > first &&
      pos + 1 < end &&
      <u32>load<u8>(src + pos + 1) - 0x30 < 10
    ) {
      fraction = true;
    } else break;
    pos++;
  }
  // JSON: at least one integer digit, and no leading zero before another digit.
  if (
    pos == first ||
    (load<u8>(src + first) == 0x30 && pos > first + 1 && load<u8>(src + first + 1) != 0x2e)
  ) {
    pos = start;
    jsonFail('bad number');
    return NaN;
  }
  if ((c | 0x20) == 0x65 && pos < end) {
    pos++;
    const negative = pos < end && load<u8>(src + pos) == 0x2d;
    if (pos < end && (load<u8>(src + pos) == 0x2d || load<u8>(src + pos) == 0x2b)) pos++;
    let exp = 0;
    const expStart = pos;
    while (pos < end && <u32>load<u8>(src + pos) - 0x30 < 10) {
      if (exp < 10000) exp = exp * 10 + <i32>(load<u8>(src + pos) - 0x30);
      pos++;
    }
    if (pos == expStart) {
      jsonFail('bad number');
      return NaN;
    }
    scale += negative ? -exp : exp;
  }
  // 10^k is exact in f64 up to k = 22, so short decimals such as 0.25 come out correctly rounded.
  let p: f64 = 1;
  for (let k = scale < 0 ? -scale : scale; k > 0 && p < Infinity; k--) p *= 10;
  const value = scale < 0 ? mantissa / p : mantissa * p;
  return load<u8>(src + start) == 0x2d ? -value : value;
}
