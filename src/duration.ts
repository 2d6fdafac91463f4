import { usage } from './errors.js';
import { quote, shorten } from './quote.js';

// One duration form for flags and policy files alike: a whole number and a lower-case unit, with
// nothing before, between or after ("90d", "12h", "2w"). A value that works on the command line works
// in a policy file and the other way round, and it is stored exactly as written. The ms package read
// "1.5d" (as 36h), "90D", " 90d" and "90 days" as well, so the CLI accepted what policy files refused;
// a form this small needs no library, and a strict one cannot be had from ms.

const DAY = 86_400;

export const DURATION_UNITS = { s: 1, m: 60, h: 3600, d: DAY, w: 7 * DAY } as const;
export type DurationUnit = keyof typeof DURATION_UNITS;

/** The whole form; the value is checked against its range apart, so 0d is "out of range", not "not a duration". */
export const DURATION_FORM = /^([0-9]+)([smhdw])$/;

const EXAMPLES = [{ text: '12h', s: 12 * 3600 }, { text: '7d', s: 7 * DAY }, { text: '30d', s: 30 * DAY }, { text: '90d', s: 90 * DAY }];

/** What a near miss should have been, so the message says what to change. */
function nearMiss(text: string): string {
  const t = text.trim();
  if (t !== text || /^[0-9.]+\s+[A-Za-z]/.test(t)) return 'no spaces';
  if (/^[0-9]+[A-Z]$/.test(t) && DURATION_FORM.test(t.toLowerCase())) return `units are lower case: ${shorten(t.toLowerCase())}`;
  const frac = /^([0-9]*\.[0-9]+)([smhdw])$/.exec(t);
  if (frac) {
    const secs = Number(frac[1]) * DURATION_UNITS[frac[2] as DurationUnit];
    return Number.isInteger(secs) && secs > 0 ? `a whole number: ${shorten(t)} is ${formatDuration(secs)}` : 'a whole number, in a smaller unit if need be';
  }
  if (/^[0-9]+$/.test(t)) return 'a unit after the number';
  return '';
}

/**
 * Parses "30d", "12h" into whole seconds, within [minS, maxS]. Anything not of the form is a usage error
 * saying what the form is; 0 or a value outside the range is a usage error naming the range.
 */
export function parseDuration(what: string, text: string, minS: number, maxS: number): number {
  const range = `${formatDuration(minS)}..${formatDuration(maxS)}`;
  const m = DURATION_FORM.exec(text);
  if (!m) {
    const miss = nearMiss(text);
    const examples = EXAMPLES.filter((e) => e.s >= minS && e.s <= maxS).slice(0, 2).map((e) => e.text);
    throw usage(
      `${what} ${quote(text)} is not a duration: write a whole number and a unit (s, m, h, d or w), lower case and with no spaces${examples.length ? `, such as ${examples.join(' or ')}` : ''}${miss ? ` (${miss})` : ''}; allowed ${range}`,
      { reason: 'bad-duration' },
    );
  }
  const s = Number(m[1]) * DURATION_UNITS[m[2] as DurationUnit];
  if (!Number.isSafeInteger(s) || s < minS || s > maxS) {
    throw usage(`${what} ${quote(text)} is out of range: allowed ${range}`, { reason: 'duration-out-of-range' });
  }
  return s;
}

export function formatDuration(s: number): string {
  if (s % DAY === 0) return `${s / DAY}d`;
  if (s % 3600 === 0) return `${s / 3600}h`;
  if (s % 60 === 0) return `${s / 60}m`;
  return `${s}s`;
}

export const DELETION_WINDOW = { min: 7 * DAY, max: 30 * DAY, default: 30 * DAY };
export const ROTATION_PERIOD = { min: DAY, max: 3650 * DAY };
