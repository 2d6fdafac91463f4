import { main } from './main.js';

// A reader that goes away (kmsctl list | head -1) is not an error of kmsctl: the rest of the output is
// dropped and the command still finishes, audit records included, with its own exit code.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EPIPE' && e.code !== 'ERR_STREAM_DESTROYED') throw e;
  });
}

void main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
