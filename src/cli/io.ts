import { closeSync, fstatSync, fsyncSync, lstatSync, openSync, readSync, renameSync, writeFileSync, writeSync, unlinkSync, type Stats } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { usage, configError, badData, notFound, ioError, KmsError } from '../errors.js';
import { quote } from '../quote.js';
import { MAX_PLAINTEXT, MIN_PLAINTEXT } from '../envelope/format.js';

/**
 * How much of an input kmsctl reads, fitted to what the input is, and what it says when there is more:
 * a stream (/dev/zero, a FIFO, a pipe that never ends) is read up to the cap and no further.
 */
export interface InputLimit {
  max: number;
  over: (source: string) => KmsError;
}

const MiB = 1024 * 1024;
const small = (what: string) => (source: string) =>
  badData(`${source} is over 1 MiB (${MiB} bytes): not ${what}`, { reason: 'input-too-large' });

export const LIMITS = {
  plaintext: {
    max: MAX_PLAINTEXT,
    over: (source: string) => usage(`a data key must be ${MIN_PLAINTEXT} to ${MAX_PLAINTEXT} bytes; ${source} is over ${MAX_PLAINTEXT} bytes`, { reason: 'bad-plaintext-size' }),
  },
  blob: { max: MiB, over: small('a kmsctl blob') },
  signature: { max: MiB, over: small('a signature') },
  mac: { max: MiB, over: small('a MAC') },
  checkpoint: { max: MiB, over: small('a kmsctl checkpoint') },
  /** Messages to sign, verify or MAC are held in memory whole (Ed25519 and HMAC on the token take them so). */
  message: {
    max: 1024 * MiB,
    over: (source: string) => usage(`${source} is over 1 GiB (${1024 * MiB} bytes): kmsctl signs, verifies and MACs messages up to 1 GiB; sign a digest of a larger file`, { reason: 'input-too-large' }),
  },
} satisfies Record<string, InputLimit>;

const pause = new Int32Array(new SharedArrayBuffer(4));

/**
 * Reads fd to its end or to max + 1 bytes, whichever comes first; null means there was more than max.
 * A regular file is read into one buffer of its size, a stream (pipe, FIFO, device) in 1 MiB pieces, so
 * a stream over the cap never holds more than the cap.
 */
function readBounded(fd: number, max: number, sizeHint: number): Buffer | null {
  const pieces: Buffer[] = [];
  let total = 0;
  let buf = Buffer.allocUnsafe(Math.min(max + 1, sizeHint > 0 ? sizeHint + 1 : 64 * 1024));
  let n = 0;
  try {
    for (;;) {
      if (n === buf.length) {
        pieces.push(buf);
        total += n;
        if (total > max) return null;
        buf = Buffer.allocUnsafe(Math.min(max + 1 - total, MiB));
        n = 0;
      }
      let got: number;
      try {
        got = readSync(fd, buf, n, buf.length - n, null);
      } catch (e) {
        // stdin may be a non-blocking pipe: wait a moment for the writer rather than fail.
        if ((e as NodeJS.ErrnoException).code === 'EAGAIN') {
          Atomics.wait(pause, 0, 0, 5);
          continue;
        }
        throw e;
      }
      if (got === 0) break;
      n += got;
    }
    pieces.push(buf.subarray(0, n));
    total += n;
    return pieces.length === 1 ? pieces[0] : Buffer.concat(pieces, total);
  } finally {
    // What was read of a data key that turned out too long is not left in memory.
    if (total > max && max <= MiB) for (const p of pieces) p.fill(0);
  }
}

function notReadable(what: string, path: string, e: unknown): KmsError {
  const code = (e as { code?: string }).code;
  if (code === 'ENOENT') return notFound(`${what}: no such file ${path}`, { reason: 'input-not-found' });
  if (code === 'EISDIR') return notFound(`${what}: ${path} is a directory, not a file`, { reason: 'input-not-readable' });
  if (code === 'EACCES' || code === 'EPERM') return notFound(`${what}: cannot read ${path} (permission denied)`, { reason: 'input-not-readable' });
  return notFound(`${what}: cannot read ${path} (${code ?? String(e)})`, { reason: 'input-not-readable' });
}

/**
 * Reads --in FILE, or stdin when no file (or "-") is given, up to the limit. A file that is missing or
 * cannot be read is exit 66 (sysexits' EX_NOINPUT); a regular file over the limit is refused from its
 * size, without reading it.
 */
export function readInput(path: string | undefined, what: string, limit: InputLimit): Buffer {
  // /dev/stdin is read as fd 0: opened anew it fails with ENXIO when stdin is a socket (a parent that
  // spawned kmsctl with pipes made by libuv), though reading the descriptor works.
  const stdin = path === undefined || path === '-' || path === '/dev/stdin';
  if (stdin && process.stdin.isTTY) throw usage(`${what}: pass --in FILE or pipe the input on stdin`);
  const source = path === '/dev/stdin' ? path : stdin ? 'the input on stdin' : path;
  let fd: number;
  try {
    fd = stdin ? 0 : openSync(path, 'r');
  } catch (e) {
    throw notReadable(what, path!, e);
  }
  try {
    let size = 0;
    try {
      const st = fstatSync(fd);
      if (st.isFile()) size = st.size;
    } catch {
      size = 0;
    }
    // (stdin may be a file read from further on than its start: there the size only sizes the buffer.)
    if (!stdin && size > limit.max) throw limit.over(source);
    let data: Buffer | null;
    try {
      data = readBounded(fd, limit.max, size);
    } catch (e) {
      throw notReadable(what, stdin ? 'stdin' : path!, e);
    }
    if (data === null) throw limit.over(source);
    return data;
  } finally {
    if (!stdin) closeSync(fd);
  }
}

/**
 * How an --out target is written: `-` is stdout; a device, a FIFO or a symlink (/dev/null,
 * /dev/stdout, a named pipe) is written through, never replaced by a renamed regular file; only a
 * regular file (or a new one) gets the temp-file-and-rename treatment. A directory is refused.
 */
export function outputKind(path: string): 'stdout' | 'through' | 'atomic' {
  if (path === '-') return 'stdout';
  let existing: Stats | undefined;
  try {
    existing = lstatSync(path);
  } catch {
    existing = undefined;
  }
  if (!existing || existing.isFile()) return 'atomic';
  if (existing.isDirectory()) throw usage(`cannot write ${path}: it is a directory`, { reason: 'output-not-writable' });
  return 'through';
}

/** Written to a temp file beside the target, fsynced, then renamed: a reader never sees half a file. */
export function writeOutputAtomic(path: string, data: Buffer | string, mode = 0o644): void {
  const kind = outputKind(path);
  if (kind === 'stdout') {
    process.stdout.write(data);
    return;
  }
  if (kind === 'through') {
    try {
      writeFileSync(path, data);
    } catch (e) {
      const code = (e as { code?: string }).code;
      // A device that opens but will not take the bytes (/dev/full) lost them: an I/O error, 74.
      const make = code === 'ENOSPC' || code === 'EIO' || code === 'EDQUOT' ? ioError : usage;
      throw make(`cannot write ${path} (${code ?? String(e)})`, { reason: 'output-not-writable' });
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
    throw ioError(`cannot write ${path} (${(e as { code?: string }).code ?? String(e)})`, { reason: 'output-not-writable' });
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
  if (!/^[1-9]\d{0,8}$/.test(s)) throw usage(`--version must be a positive whole number, not ${quote(s)}`);
  return Number(s);
}
