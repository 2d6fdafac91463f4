import { writeSync } from 'node:fs';
import { EXIT } from '../errors.js';
import { main } from './main.js';

// A reader that goes away (kmsctl list | head -1) is not an error of kmsctl: the rest of the output is
// dropped and the command still finishes, audit records included, with its own exit code. Output that
// cannot be written for another reason (a full disk: > /dev/full) is lost: one line says so, and the
// exit code is 74 whatever the command did (a batch reports it itself, with what it had done).
let lostOutput: string | undefined;
let finished = false;
const lostLine = (code: string) => `kmsctl: cannot write the output (${code}): it is lost\n`;
const onStreamError = (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE' || e.code === 'ERR_STREAM_DESTROYED' || lostOutput !== undefined) return;
  lostOutput = e.code ?? e.message;
  if (finished) {
    try { writeSync(2, lostLine(lostOutput)); } catch { /* stderr is gone too */ }
    process.exitCode = EXIT.io;
  }
};

// Node makes process.stdout and process.stderr on first use, and for a pipe that loads the net stack:
// a command that prints nothing (sign --out F) should not pay for it. So the handler is attached when
// a stream is first used, through Node's own getter.
for (const name of ['stdout', 'stderr'] as const) {
  const d = Object.getOwnPropertyDescriptor(process, name);
  if (!d?.get || !d.configurable) {
    process[name].on('error', onStreamError);
    continue;
  }
  const make = d.get;
  let stream: NodeJS.WriteStream | undefined;
  Object.defineProperty(process, name, {
    configurable: true,
    enumerable: d.enumerable,
    get() {
      if (!stream) {
        stream = make.call(process) as NodeJS.WriteStream;
        stream.on('error', onStreamError);
      }
      return stream;
    },
  });
}

void main(process.argv.slice(2)).then((code) => {
  finished = true;
  if (lostOutput !== undefined && code !== EXIT.io) {
    try { writeSync(2, lostLine(lostOutput)); } catch { /* stderr is gone too */ }
    process.exitCode = EXIT.io;
    return;
  }
  process.exitCode = code;
});
