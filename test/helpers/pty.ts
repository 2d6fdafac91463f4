// kmsctl in a pseudo-terminal, as an operator at a terminal runs it: node has no pty of its own, so a
// small python3 script (its pty module) forks the built binary on a new terminal, waits for each
// expected text, types the answer (Ctrl-C is "\x03"), and reports everything the terminal showed and
// the exit code. stdin, stdout or both may be files instead of the terminal.

import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN, requireBuilt } from './cli.js';

const DRIVER = String.raw`
import json, os, pty, re, sys, time, select
spec = json.loads(sys.stdin.read())
pid, fd = pty.fork()
if pid == 0:
    os.chdir(spec['cwd'])
    if spec.get('stdin'):
        os.dup2(os.open(spec['stdin'], os.O_RDONLY), 0)
    if spec.get('stdout'):
        os.dup2(os.open(spec['stdout'], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), 1)
    os.execve(spec['argv'][0], spec['argv'], spec['env'])
out = b''
def pump(t):
    global out
    r, _, _ = select.select([fd], [], [], t)
    if not r:
        return True
    try:
        chunk = os.read(fd, 65536)
    except OSError:
        return False
    if not chunk:
        return False
    out += chunk
    return True
missed = None
for step in spec['steps']:
    end = time.time() + step.get('timeout', 30)
    while not re.search(step['expect'].encode(), out):
        if time.time() > end or not pump(0.1):
            missed = step['expect']
            break
    if missed is not None:
        break
    time.sleep(step.get('pause', 0.2))
    os.write(fd, step['send'].encode())
end = time.time() + spec.get('timeout', 60)
while time.time() < end and pump(0.1):
    pass
# The terminal closes as the process exits: give it a moment to be reaped before calling it hung.
grace = time.time() + 10
done, st = os.waitpid(pid, os.WNOHANG)
while done == 0 and time.time() < min(grace, end + 10):
    time.sleep(0.02)
    done, st = os.waitpid(pid, os.WNOHANG)
if done == 0:
    os.kill(pid, 9)
    done, st = os.waitpid(pid, 0)
    missed = missed or 'exit (killed after the timeout)'
print(json.dumps({'missed': missed, 'code': os.waitstatus_to_exitcode(st), 'output': out.decode('utf8', 'replace')}))
`;

let driverPath: string | undefined;

export interface PtyStep {
  /** A regular expression the terminal must show before `send` is typed. */
  expect: string;
  send: string;
  /** Seconds to wait between seeing the text and typing (default 0.2). */
  pause?: number;
  timeout?: number;
}

export interface PtyRun {
  code: number;
  /** Everything the terminal showed (stderr, and stdout unless it went to a file), escape codes included. */
  output: string;
  /** The output without escape codes and carriage returns. */
  text: string;
  /** The step whose text never appeared, if any. */
  missed: string | null;
}

export interface PtyOptions {
  home: string;
  steps?: PtyStep[];
  env?: Record<string, string | undefined>;
  stdin?: string;
  stdout?: string;
  timeout?: number;
}

/** Strips ANSI escape sequences (colours, cursor moves) and carriage returns. */
export function plain(s: string): string {
  return s.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '').replace(/\r/g, '');
}

/** Runs the built kmsctl on a new pseudo-terminal: no CI, no NO_COLOR, TERM=xterm unless env says otherwise. */
export function ptyKms(args: string[], o: PtyOptions): PtyRun {
  requireBuilt();
  if (!driverPath) {
    // One file per version of the script, shared by every test file and run.
    driverPath = join(tmpdir(), `kmsctl-pty-driver-${createHash('sha256').update(DRIVER).digest('hex').slice(0, 16)}.py`);
    if (!existsSync(driverPath)) writeFileSync(driverPath, DRIVER, { mode: 0o644 });
  }
  const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: o.home, KMSCTL_HOME: o.home, TERM: 'xterm', LANG: 'C.UTF-8' };
  for (const [k, v] of Object.entries(o.env ?? {})) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  const spec = { argv: [process.execPath, BIN, ...args], cwd: o.home, env, steps: o.steps ?? [], stdin: o.stdin, stdout: o.stdout, timeout: o.timeout ?? 60 };
  const r = spawnSync('python3', [driverPath], { input: JSON.stringify(spec), encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`pty driver failed (${r.status}): ${r.stderr}`);
  const res = JSON.parse(r.stdout) as { missed: string | null; code: number; output: string };
  return { ...res, text: plain(res.output) };
}
