import { parseDuration } from '../duration.js';
import { usage } from '../errors.js';
import { quote } from '../quote.js';

// --since / --until: a duration means "that long ago" (24h, 7d, 90m: the same strict form as everywhere
// else, see duration.ts), anything else must be an ISO 8601 date or timestamp. A timestamp without a
// zone is UTC, as every time in the audit trail is.

const HUNDRED_YEARS_S = 100 * 365 * 86_400;
const ISO = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/i;
const DURATION = /^\d+(\.\d+)?\s*[a-z]+$/i;

export function parseInstant(flag: string, text: string, now: Date): Date {
  const t = text.trim();
  // What looks like a duration is read as one, so "1.5d" or "7D" is told what the form is.
  if (DURATION.test(t)) return new Date(now.getTime() - parseDuration(flag, text, 1, HUNDRED_YEARS_S) * 1000);
  const m = ISO.exec(t);
  if (m) {
    const zoned = m[4] === undefined ? `${t.slice(0, 10)}T00:00:00Z` : m[8] === undefined ? `${t.replace(' ', 'T')}Z` : t.replace(' ', 'T');
    const ms = Date.parse(zoned);
    // Date.parse rolls 2026-02-30 over to March; a date that does not round-trip is refused.
    const day = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
    if (Number.isFinite(ms) && day.getUTCMonth() === Number(m[2]) - 1 && day.getUTCDate() === Number(m[3])) return new Date(ms);
  }
  throw usage(`${flag} ${quote(text)} is neither a duration ago (24h, 7d) nor a timestamp (2026-05-01 or 2026-05-01T12:00:00Z)`, { reason: 'bad-time' });
}

export interface Window {
  since?: Date;
  until?: Date;
}

/** --since must not lie in the future, and must come before --until. */
export function parseWindow(o: { since?: unknown; until?: unknown }, now: Date): Window {
  const w: Window = {};
  if (o.since !== undefined) w.since = parseInstant('--since', String(o.since), now);
  if (o.until !== undefined) w.until = parseInstant('--until', String(o.until), now);
  if (w.since && w.since.getTime() > now.getTime()) throw usage(`--since ${quote(o.since)} lies in the future`, { reason: 'bad-time' });
  if (w.since && w.until && w.since.getTime() >= w.until.getTime()) throw usage(`--since ${quote(o.since)} is not before --until ${quote(o.until)}`, { reason: 'bad-time' });
  return w;
}
