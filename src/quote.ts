// A value the user gave, echoed back in a message. Messages are one line each, whatever was given: a
// 20 MB YAML scalar or argument must not become a 20 MB error line, and a newline in it must not split
// the line. So the value is cut to a few dozen characters with an ellipsis and quoted as JSON would.

export const QUOTE_MAX = 60;

/** The first `max` characters of a value, with "…" when something was cut (never half a surrogate pair). */
export function shorten(value: string, max = QUOTE_MAX): string {
  if (value.length <= max) return value;
  let cut = value.slice(0, max - 1);
  const last = cut.charCodeAt(cut.length - 1);
  if (last >= 0xd800 && last <= 0xdbff) cut = cut.slice(0, -1);
  return `${cut}…`;
}

/** The value shortened and in double quotes, control characters escaped: `"aaaa…"`. */
export function quote(value: unknown, max = QUOTE_MAX): string {
  return JSON.stringify(shorten(String(value), max));
}
