/**
 * Terminal hygiene for text that came from a server or a request (docs/security.md R105,
 * docs/design.md §6): C0/C1 controls, DEL, ESC sequences and Unicode bidi/format
 * characters are removed and the length is capped, so a hostile
 * error_description cannot rewrite the screen or the clipboard.
 */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff\ufff9-\ufffb]/g;

export function sanitize(value: unknown, max = 300): string {
  const text = String(value ?? '').replace(CONTROL, '');
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

/**
 * A command-line value shown back in an error: a long one is most likely a pasted token
 * (`-p eyJhbGci…` instead of `-p work`), so only its first characters are shown.
 */
export function previewArg(value: string): string {
  return value.length >= 25 ? `${sanitize(value.slice(0, 4))}…` : sanitize(value, 64);
}

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** "in 59 minutes" / "3 hours ago" from a millisecond delta. */
export function relativeTime(deltaMs: number): string {
  const past = deltaMs < 0;
  const s = Math.round(Math.abs(deltaMs) / 1000);
  let text: string;
  // Each unit only while its rounded count stays below the next unit (3599 s is "1 hour", not "60 minutes").
  if (s < 60) text = plural(s, 'second');
  else if (Math.round(s / 60) < 60) text = plural(Math.round(s / 60), 'minute');
  else if (Math.round(s / 3600) < 48) text = plural(Math.round(s / 3600), 'hour');
  else text = plural(Math.round(s / 86400), 'day');
  return past ? `${text} ago` : `in ${text}`;
}
