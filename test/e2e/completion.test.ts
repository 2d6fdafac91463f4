import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { kms, initHome, removeDir, ROOT } from '../helpers/cli.js';

const FILES = { bash: 'completions/kmsctl.bash', zsh: 'completions/_kmsctl', fish: 'completions/kmsctl.fish' } as const;

function has(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
}

describe('shell completions', () => {
  let home: string;
  beforeAll(() => {
    home = initHome();
    for (const [alias, spec] of [['payments', 'aes-256'], ['release-signing', 'ec-p256']]) {
      expect(kms(['create', alias, '--spec', spec], { home }).code).toBe(0);
    }
  });
  afterAll(() => removeDir(home));

  for (const [shell, file] of Object.entries(FILES)) {
    it(`checked-in ${file} is what kmsctl completion ${shell} prints`, () => {
      const r = kms(['completion', shell], { home });
      expect(r.code).toBe(0);
      expect(r.stdout).toBe(readFileSync(join(ROOT, file), 'utf8'));
    });
  }

  it('completion of an unknown shell is a usage error', () => {
    const r = kms(['completion', 'tcsh', '--json'], { home });
    expect(r.code).toBe(64);
    expect(r.json.error.message).toContain('bash, zsh, fish');
  });

  // Drives the real bash completion function the way readline would, with kmsctl on PATH.
  function bashComplete(words: string[]): string[] {
    const script = [
      `source ${JSON.stringify(join(ROOT, FILES.bash))}`,
      'complete -p kmsctl >/dev/null || exit 3',
      `COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')})`,
      'COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))',
      '_kmsctl',
      'printf "%s\\n" "${COMPREPLY[@]}"',
    ].join('\n');
    const r = spawnSync('bash', ['-c', script], {
      env: { PATH: `${join(ROOT, 'bin')}:${process.env.PATH}`, KMSCTL_HOME: home, HOME: home },
      encoding: 'utf8',
    });
    expect(r.status).toBe(0);
    return r.stdout.split('\n').filter(Boolean);
  }

  it('bash completes commands, options, choices and key aliases from the ledger', () => {
    expect(bashComplete(['kmsctl', ''])).toEqual(expect.arrayContaining(['init', 'create', 'wrap', 'unwrap', 'sign', 'verify', 'rotate', 'delete', 'doctor', 'completion']));
    expect(bashComplete(['kmsctl', 'ro'])).toEqual(['rotate']);
    expect(bashComplete(['kmsctl', 'create', 'x', '--spec', ''])).toEqual(['aes-256', 'hmac-sha256', 'ec-p256', 'ec-p384', 'ed25519', 'rsa-2048', 'rsa-3072', 'rsa-4096']);
    expect(bashComplete(['kmsctl', 'wrap', 'payments', '--con'])).toEqual(['--context']);
    expect(bashComplete(['kmsctl', 'show', ''])).toEqual(['payments', 'release-signing']);
    expect(bashComplete(['kmsctl', 'sign', 'rel'])).toEqual(['release-signing']);
    expect(bashComplete(['kmsctl', 'completion', ''])).toEqual(['bash', 'zsh', 'fish']);
    expect(bashComplete(['kmsctl', '--json', 'rotate', 'pay'])).toEqual(['payments']);
  });

  it('the hidden alias lookup lists live keys only and stays out of help', () => {
    const r = kms(['__aliases'], { home });
    expect(r.stdout.trim().split('\n')).toEqual(['payments', 'release-signing']);
    const help = kms(['--help'], { home });
    expect(help.code).toBe(0);
    expect(help.stdout).not.toContain('__aliases');
  });

  it('zsh and fish parse their scripts (when those shells are installed)', () => {
    let checked = 0;
    if (has('zsh')) {
      expect(spawnSync('zsh', ['-n', join(ROOT, FILES.zsh)]).status).toBe(0);
      checked++;
    }
    if (has('fish')) {
      expect(spawnSync('fish', ['-n', join(ROOT, FILES.fish)]).status).toBe(0);
      const r = spawnSync('fish', ['-c', `source ${join(ROOT, FILES.fish)}; complete -C "kmsctl show pay"`], { env: { PATH: `${join(ROOT, 'bin')}:${process.env.PATH}`, KMSCTL_HOME: home, HOME: home }, encoding: 'utf8' });
      expect(r.stdout.split('\n')).toContain('payments');
      checked++;
    }
    if (process.env.CI) expect(checked).toBe(2);
  });
});
