import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { kms, initHome, removeDir } from '../helpers/cli.js';

describe('list pages in alias order', () => {
  let home: string;
  const aliases = ['alpha', 'bravo', 'charlie', 'delta', 'echo'];
  beforeAll(() => {
    home = initHome();
    for (const a of aliases) expect(kms(['create', a, '--spec', 'aes-256'], { home }).code).toBe(0);
    expect(kms(['delete', 'charlie', '--yes', '--force', '--json'], { home }).code).toBe(0);
  });
  afterAll(() => removeDir(home));

  const page = (args: string[]) => {
    const r = kms(['list', '--json', ...args], { home });
    expect(r.code).toBe(0);
    return (r.json.keys as Array<{ alias: string }>).map((k) => k.alias);
  };

  it('--limit and --after walk the keys a page at a time', () => {
    expect(page(['--limit', '2'])).toEqual(['alpha', 'bravo']);
    expect(page(['--limit', '2', '--after', 'bravo'])).toEqual(['charlie', 'delta']);
    expect(page(['--limit', '2', '--after', 'delta'])).toEqual(['echo']);
    expect(page(['--limit', '2', '--after', 'echo'])).toEqual([]);
  });

  it('--state filters before the page is cut', () => {
    expect(page(['--state', 'pending-deletion', '--limit', '1'])).toEqual(['charlie']);
    expect(page(['--state', 'enabled', '--limit', '10'])).toEqual(['alpha', 'bravo', 'delta', 'echo']);
  });

  it('a bad --limit is a usage error that names the range', () => {
    for (const bad of ['0', '-1', 'ten', '1.5']) {
      const r = kms(['list', '--json', '--limit', bad], { home });
      expect(r.code).toBe(64);
      expect(r.json.error.message).toContain('--limit must be a whole number from 1 to 9999999');
    }
  });
});
