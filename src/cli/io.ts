import { closeSync, fsyncSync, lstatSync, openSync, readFileSync, renameSync, writeFileSync, writeSync, unlinkSync, type Stats } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { usage, configError, badData } from '../errors.js';

/** Reads --in FILE, or stdin when no file (or "-") is given. */
export function readInput(path: string | undefined, what: string): Buffer {
  if (path === undefined || path === '-') {
    if (process.stdin.isTTY) throw usage(`${what}: pass --in FILE or pipe the input on stdin`);
    return readFileSync(0);
  }
  try {
    return readFileSync(path);
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === 'ENOENT') throw usage(`${what}: no such file ${path}`, { reason: 'input-not-found' });
    if (code === 'EISDIR') throw usage(`${what}: ${path} is a directory`);
    throw configError(`${what}: cannot read ${path} (${code ?? String(e)})`);
  }
}

/** Written to a temp file beside the target, fsynced, then renamed: a reader never sees half a file. */
export function writeOutputAtomic(path: string, data: Buffer | string, mode = 0o644): void {
  if (path === '-') {
    process.stdout.write(data);
    return;
  }
  // A device, a FIFO or a symlink (/dev/null, /dev/stdout, a named pipe) is written through, never
  // replaced by a renamed regular file: only a regular file gets the temp-file-and-rename treatment.
  let existing: Stats | undefined;
  try {
    existing = lstatSync(path);
  } catch {
    existing = undefined;
  }
  if (existing && !existing.isFile()) {
    if (existing.isDirectory()) throw usage(`cannot write ${path}: it is a directory`, { reason: 'output-not-writable' });
    try {
      writeFileSync(path, data);
    } catch (e) {
      throw usage(`cannot write ${path} (${(e as { code?: string }).code ?? String(e)})`, { reason: 'output-not-writable' });
    }
    return;
  }
  const tmp = join(dirname(path), `.${basename(path)}.tmp-${process.pid}`);
  let fd: number;
  try {
    fd = openSync(tmp, 'w', mode);
  } catch (e) {
    throw usage(`cannot write ${path} (${(e as { code?: string }).code ?? String(e)})`, { reason: 'output-not-writable' });
  }
  try {
    writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    try { unlinkSync(tmp); } catch { /* already gone */ }
    throw configError(`cannot write ${path} (${(e as { code?: string }).code ?? String(e)})`);
  } finally {
    try { closeSync(fd); } catch { /* closed above on the error path */ }
  }
  renameSync(tmp, path);
}

/** Signature and MAC files may hold raw bytes or base64 text; raw bytes of that size are never all base64 characters. */
export function rawOrBase64(buf: Buffer, what: string): Buffer {
  const text = buf.toString('latin1').trim();
  if (/^[A-Za-z0-9+/=_-]+$/.test(text) && text.length > 0) {
    const decoded = Buffer.from(text.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
    if (decoded.length > 0) return decoded;
  }
  if (buf.length === 0) throw badData(`${what} is empty`);
  return buf;
}

export function parseVersion(v: unknown): number | undefined {
  if (v === undefined) return undefined;
  const s = String(v);
  if (!/^[1-9]\d{0,8}$/.test(s)) throw usage(`--version must be a positive whole number, not "${s}"`);
  return Number(s);
}
