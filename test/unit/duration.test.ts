// One strict duration form for flags, policy files and --since: a whole number and a lower-case unit
// (s, m, h, d, w), nothing else; 0 and values outside a field's range are "out of range" with the range.

import { describe, expect, it } from 'vitest';
import { DELETION_WINDOW, ROTATION_PERIOD, formatDuration, parseDuration } from '../../src/duration.js';
import { parseInstant } from '../../src/audit/when.js';
import { parsePolicies } from '../../src/policy/load.js';
import { KmsError } from '../../src/errors.js';

const DAY = 86_400;

function refusal(fn: () => unknown): KmsError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(KmsError);
    return e as KmsError;
  }
  throw new Error('expected a refusal');
}

const rotation = (t: string) => parseDuration('--rotation-period', t, ROTATION_PERIOD.min, ROTATION_PERIOD.max);
const window = (t: string) => parseDuration('--window', t, DELETION_WINDOW.min, DELETION_WINDOW.max);

describe('parseDuration', () => {
  it.each([
    ['90d', 90 * DAY],
    ['1d', DAY],
    ['3650d', 3650 * DAY],
    ['24h', DAY],
    ['1440m', DAY],
    ['86400s', DAY],
    ['2w', 14 * DAY],
    ['365d', 365 * DAY],
    ['090d', 90 * DAY],
  ])('%s is %i seconds', (t, s) => {
    expect(rotation(t)).toBe(s);
  });

  it.each([
    ['1.5d', 'a whole number: 1.5d is 36h'],
    ['7.5d', 'a whole number: 7.5d is 180h'],
    ['90D', 'units are lower case: 90d'],
    [' 90d', 'no spaces'],
    ['90d ', 'no spaces'],
    ['90 d', 'no spaces'],
    ['90 days', 'no spaces'],
    ['90days', ''],
    ['90', 'a unit after the number'],
    ['1y', ''],
    ['-1d', ''],
    ['abc', ''],
    ['', ''],
  ])('%j is not a duration (usage, bad-duration)%s', (t, why) => {
    const e = refusal(() => rotation(t));
    expect(e.exitCode).toBe(64);
    expect(e.reason).toBe('bad-duration');
    expect(e.message).toContain(`--rotation-period ${JSON.stringify(t)} is not a duration: write a whole number and a unit (s, m, h, d or w), lower case and with no spaces`);
    expect(e.message).toContain('allowed 1d..3650d');
    if (why) expect(e.message).toContain(`(${why})`);
  });

  it.each([
    ['0d', '--rotation-period "0d" is out of range: allowed 1d..3650d'],
    ['0s', '--rotation-period "0s" is out of range: allowed 1d..3650d'],
    ['23h', '--rotation-period "23h" is out of range: allowed 1d..3650d'],
    ['3651d', '--rotation-period "3651d" is out of range: allowed 1d..3650d'],
    ['99999999999999999999d', '--rotation-period "99999999999999999999d" is out of range: allowed 1d..3650d'],
  ])('%s is out of range (usage, duration-out-of-range), naming the range', (t, message) => {
    const e = refusal(() => rotation(t));
    expect(e.exitCode).toBe(64);
    expect(e.reason).toBe('duration-out-of-range');
    expect(e.message).toBe(message);
  });

  it('--window: 7d..30d, 1w and 30d at the ends, 6d and 31d outside', () => {
    expect(window('1w')).toBe(7 * DAY);
    expect(window('30d')).toBe(30 * DAY);
    expect(refusal(() => window('6d')).message).toBe('--window "6d" is out of range: allowed 7d..30d');
    expect(refusal(() => window('31d')).message).toBe('--window "31d" is out of range: allowed 7d..30d');
    expect(refusal(() => window('7.5d')).message).toContain('is not a duration');
  });

  it('examples in the message lie inside the range', () => {
    expect(refusal(() => window('x')).message).toContain('such as 7d or 30d');
    expect(refusal(() => parseDuration('--since', 'x', 1, 100 * 365 * DAY)).message).toContain('such as 12h or 7d');
  });

  it('a long value is echoed shortened', () => {
    const e = refusal(() => rotation(`${'9'.repeat(1_000_000)}.5d`));
    expect(e.message.length).toBeLessThan(400);
    expect(e.message).toContain(`"${'9'.repeat(59)}…"`);
    expect(refusal(() => rotation(`${'9'.repeat(1_000_000)}d`)).message).toBe(`--rotation-period "${'9'.repeat(59)}…" is out of range: allowed 1d..3650d`);
  });

  it('formatDuration gives the largest whole unit', () => {
    expect([DAY * 90, 36 * 3600, 90 * 60, 45].map(formatDuration)).toEqual(['90d', '36h', '90m', '45s']);
  });
});

describe('policy files read durations with the same parser', () => {
  const file = (value: string) => ({ file: 'p.yaml', text: `version: 1\nkeys:\n  - alias: a\n    spec: aes-256\n    rotation-period: ${value}\n` });

  it.each(['90d', '2w', '24h', '1440m', '86400s'])('%s is accepted as on the command line', (v) => {
    const r = parsePolicies([file(v)]);
    expect(r.errors).toEqual([]);
    expect(r.policy!.keys[0].rotationPeriodS).toBe(rotation(v));
  });

  it.each(['1.5d', '90D', '0d', '3651d', '90days', '"90 d"'])('%s gets the message the CLI gives', (v) => {
    const r = parsePolicies([file(v)]);
    const unquoted = v.replace(/^"|"$/g, '');
    expect(r.errors).toHaveLength(1);
    expect(r.errors[0].message).toBe(refusal(() => parseDuration('rotation-period', unquoted, ROTATION_PERIOD.min, ROTATION_PERIOD.max)).message);
  });
});

describe('--since and --until keep their forms', () => {
  const now = new Date('2026-05-02T00:00:00Z');

  it.each([
    ['24h', '2026-05-01T00:00:00.000Z'],
    ['7d', '2026-04-25T00:00:00.000Z'],
    ['90m', '2026-05-01T22:30:00.000Z'],
    ['30s', '2026-05-01T23:59:30.000Z'],
    ['2026-05-01', '2026-05-01T00:00:00.000Z'],
    ['2026-05-01T12:00:00Z', '2026-05-01T12:00:00.000Z'],
    ['2026-05-01 10:02', '2026-05-01T10:02:00.000Z'],
  ])('%s', (t, iso) => {
    expect(parseInstant('--since', t, now).toISOString()).toBe(iso);
  });

  it('a near-miss duration is told the form; anything else is neither a duration nor a timestamp', () => {
    expect(refusal(() => parseInstant('--since', '1.5d', now)).message).toContain('--since "1.5d" is not a duration');
    expect(refusal(() => parseInstant('--since', '0d', now)).reason).toBe('duration-out-of-range');
    expect(refusal(() => parseInstant('--since', 'tomorrow', now)).message).toBe('--since "tomorrow" is neither a duration ago (24h, 7d) nor a timestamp (2026-05-01 or 2026-05-01T12:00:00Z)');
  });
});
