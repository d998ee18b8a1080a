/**
 * Where the CLI's auth token comes from (`--auth-token-file`, `$SOCKETCHART_AUTH_TOKEN`, `--auth-token`): read and
 * checked here, never printed.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { UsageError } from './io.js';

/** The variable the client reads its auth token from when no --auth-token flag gives one. */
export const AUTH_TOKEN_ENV = 'SOCKETCHART_AUTH_TOKEN';

/** Far above any real token (and above the 16 KiB of headers a Node server accepts): a bigger file is a wrong path. */
const MAX_TOKEN_FILE_BYTES = 64 * 1024;

/**
 * Where the token comes from: the file, else the argument, else the environment. Every source is checked now, so
 * a wrong path or an empty variable is a usage error before anything connects. Messages never quote the token.
 */
export function authTokenSource(
  argument: string | undefined,
  file: string | undefined,
  env: Readonly<Record<string, string | undefined>>,
  warnings: string[],
): (() => string) | null {
  if (argument !== undefined && file !== undefined) throw new UsageError('--auth-token and --auth-token-file contradict each other: give one');
  if (file !== undefined) {
    const first = readTokenFile(file, (message) => new UsageError(message));
    if (!first.regular) return () => first.token;
    // Re-read per attempt so a rotated token is picked up; a failure then fails that attempt (reported, retried).
    return () => readTokenFile(file, (message) => new Error(message)).token;
  }
  if (argument !== undefined) {
    const token = checkToken(argument, '--auth-token', (message) => new UsageError(message));
    warnings.push(
      `--auth-token puts the token on the command line, where other users of this machine can read it (ps, /proc/<pid>/cmdline); use --auth-token-file <path> or $${AUTH_TOKEN_ENV} instead`,
    );
    return () => token;
  }
  const fromEnv = env[AUTH_TOKEN_ENV];
  if (fromEnv === undefined) return null;
  // Set but empty is a mistake (a CI secret that does not exist expands to ''): connecting without auth would hide it.
  const token = checkToken(fromEnv, `$${AUTH_TOKEN_ENV}`, (message) => new UsageError(message));
  return () => token;
}

function checkToken(raw: string, source: string, fail: (message: string) => Error): string {
  // What `echo token > file` and editors leave at the end; nothing else is changed.
  const token = raw.replace(/[\r\n]+$/, '');
  if (token === '') throw fail(`${source} is empty: it must hold the token`);
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f]/.test(token)) throw fail(`${source} holds a control character (a line break inside the token?): it must hold one token`);
  return token;
}

function readTokenFile(path: string, fail: (message: string) => Error): { token: string; regular: boolean } {
  const source = `--auth-token-file '${path}'`;
  let read: { bytes: Buffer; regular: boolean };
  try {
    read = readAtMost(path, MAX_TOKEN_FILE_BYTES + 1);
  } catch (error) {
    throw fail(`${source} cannot be read (${error instanceof Error ? error.message : String(error)})`);
  }
  if (read.bytes.length > MAX_TOKEN_FILE_BYTES) throw fail(`${source} is over ${MAX_TOKEN_FILE_BYTES / 1024} KiB: it must hold only the token`);
  return { token: checkToken(read.bytes.toString('utf8'), source, fail), regular: read.regular };
}

/** At most `limit` bytes, so a wrong path (/dev/zero, a log) fails fast instead of filling memory. */
function readAtMost(path: string, limit: number): { bytes: Buffer; regular: boolean } {
  const fd = openSync(path, 'r');
  try {
    const regular = fstatSync(fd).isFile();
    const buffer = Buffer.alloc(limit);
    let length = 0;
    while (length < limit) {
      const n = readSync(fd, buffer, length, limit - length, null);
      if (n === 0) break;
      length += n;
    }
    return { bytes: buffer.subarray(0, length), regular };
  } finally {
    closeSync(fd);
  }
}
