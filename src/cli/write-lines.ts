import { closeSync, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { configError, usage } from '../errors.js';

/**
 * Streams lines into a temp file beside `path`, fsyncs and renames it: like writeOutputAtomic, for
 * output that may not fit in memory (an audit export). A reader never sees half a file.
 */
export function writeLinesAtomic(path: string, lines: Iterable<string>, mode = 0o644): number {
  const tmp = join(dirname(path), `.${basename(path)}.tmp-${process.pid}`);
  let fd: number;
  try {
    fd = openSync(tmp, 'w', mode);
  } catch (e) {
    throw usage(`cannot write ${path} (${(e as { code?: string }).code ?? String(e)})`, { reason: 'output-not-writable' });
  }
  let n = 0;
  try {
    let buf: string[] = [];
    let size = 0;
    const flush = () => {
      if (buf.length) writeSync(fd, buf.join(''));
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
    fsyncSync(fd);
    closeSync(fd);
  } catch (e) {
    try { closeSync(fd); } catch { /* already closed */ }
    try { unlinkSync(tmp); } catch { /* already gone */ }
    // Only file system errors are about the output; anything else came from producing the lines.
    const fsErr = e as NodeJS.ErrnoException;
    if (fsErr.syscall === undefined) throw e;
    throw configError(`cannot write ${path} (${fsErr.code ?? fsErr.message})`);
  }
  renameSync(tmp, path);
  return n;
}
