import { closeSync, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { ioError, usage } from '../errors.js';
import { outputKind } from './io.js';

/** Writes the lines in chunks of about 1 MiB; returns how many there were. */
function writeChunks(write: (chunk: string) => void, lines: Iterable<string>): number {
  let n = 0;
  let buf: string[] = [];
  let size = 0;
  const flush = () => {
    if (buf.length) write(buf.join(''));
    buf = [];
    size = 0;
  };
  for (const line of lines) {
    buf.push(`${line}\n`);
    size += line.length + 1;
    n++;
    if (size > 1 << 20) flush();
  }
  flush();
  return n;
}

/** Only file system errors are about the output; anything else came from producing the lines. */
function outputError(path: string, e: unknown): unknown {
  const fsErr = e as NodeJS.ErrnoException;
  if (fsErr.syscall === undefined) return e;
  return ioError(`cannot write ${path} (${fsErr.code ?? fsErr.message})`, { reason: 'output-not-writable' });
}

/**
 * Streams lines into a temp file beside `path`, fsyncs and renames it: like writeOutputAtomic, for
 * output that may not fit in memory (an audit export). A reader never sees half a file. `-` is stdout;
 * a device, FIFO or symlink is written through, as writeOutputAtomic does.
 */
export function writeLinesAtomic(path: string, lines: Iterable<string>, mode = 0o644): number {
  const kind = outputKind(path);
  if (kind === 'stdout') return writeChunks((chunk) => process.stdout.write(chunk), lines);
  if (kind === 'through') {
    let fd: number;
    try {
      fd = openSync(path, 'w');
    } catch (e) {
      throw usage(`cannot write ${path} (${(e as { code?: string }).code ?? String(e)})`, { reason: 'output-not-writable' });
    }
    try {
      return writeChunks((chunk) => writeSync(fd, chunk), lines);
    } catch (e) {
      throw outputError(path, e);
    } finally {
      closeSync(fd);
    }
  }
  const tmp = join(dirname(path), `.${basename(path)}.tmp-${process.pid}`);
  let fd: number;
  try {
    fd = openSync(tmp, 'w', mode);
  } catch (e) {
    throw usage(`cannot write ${path} (${(e as { code?: string }).code ?? String(e)})`, { reason: 'output-not-writable' });
  }
  let n: number;
  try {
    n = writeChunks((chunk) => writeSync(fd, chunk), lines);
    fsyncSync(fd);
    closeSync(fd);
  } catch (e) {
    try { closeSync(fd); } catch { /* already closed */ }
    try { unlinkSync(tmp); } catch { /* already gone */ }
    throw outputError(path, e);
  }
  renameSync(tmp, path);
  return n;
}
