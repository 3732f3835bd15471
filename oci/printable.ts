/**
 * Text a registry controls (error bodies, header values, realms) is printed on the user's terminal,
 * so it is made inert first: ANSI/OSC escape sequences (which could forge a "push succeeded" line or
 * retitle the terminal) are removed whole, every other C0/C1 control and the Unicode bidi controls
 * (which reorder what is shown) are dropped, whitespace runs become one space, and the result is
 * cut to `max` characters: a 5 MB error page is not a message.
 */

// CSI (ESC [ … final byte), OSC (ESC ] … BEL or ESC \), and the other two-byte ESC sequences;
// also their 8-bit forms (U+009B CSI, U+009D OSC).
const ESCAPE_SEQUENCE =
  // eslint-disable-next-line no-control-regex
  /(?:\u001b\[|\u009b)[0-?]*[ -/]*[@-~]|(?:\u001b\]|\u009d)[^\u0007\u001b\u009c]*(?:\u0007|\u001b\\|\u009c)?|\u001b[@-_]?/g;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]+/g;

export const MAX_PRINTED = 200;

export function printable(text: string, max = MAX_PRINTED): string {
  const clean = text.replace(ESCAPE_SEQUENCE, '').replace(CONTROL, ' ').replace(/\s+/g, ' ').trim();
  return clean.length > max ? `${clean.slice(0, max)}… (${clean.length - max} more characters)` : clean;
}
