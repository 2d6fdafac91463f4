import ms from 'ms';
import { usage } from './errors.js';

const DAY = 86_400;

/** Parses "30d", "12h", "90 days" into whole seconds, within [minS, maxS]; anything else is a usage error naming the range. */
export function parseDuration(what: string, text: string, minS: number, maxS: number): number {
  const range = `${formatDuration(minS)}..${formatDuration(maxS)}`;
  const trimmed = text.trim();
  // A bare number is ambiguous (ms() reads it as milliseconds): ask for a unit.
  const parsed = /^\d+(\.\d+)?$/.test(trimmed) ? undefined : (ms as unknown as (s: string) => number | undefined)(trimmed);
  if (parsed === undefined || !Number.isFinite(parsed) || parsed <= 0) {
    throw usage(`${what} "${text}" is not a duration: use a number and a unit such as 30d or 90d (allowed ${range})`, { reason: 'bad-duration' });
  }
  const s = Math.round(parsed / 1000);
  if (s < minS || s > maxS) throw usage(`${what} ${text} is out of range: allowed ${range}`, { reason: 'duration-out-of-range' });
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
