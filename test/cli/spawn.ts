import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const root = fileURLToPath(new URL('../..', import.meta.url));

/** The real entry point, run as a user would (through tsx until it is built), with piped stdio. */
export interface Cli {
  readonly child: ChildProcessWithoutNullStreams;
  stdout(): string;
  stderr(): string;
  /** Resolves with the output so far once `pattern` appears on `stream`; rejects if the process exits first. */
  waitFor(stream: 'stdout' | 'stderr', pattern: RegExp): Promise<string>;
  /** Resolves with the exit code (or the signal name). */
  readonly exited: Promise<number | string>;
}

/** `env` is added to the test's own environment (without its SOCKETCHART_AUTH_TOKEN, so no test inherits a token). */
export function startCli(args: string[], env: Record<string, string> = {}): Cli {
  const { SOCKETCHART_AUTH_TOKEN: _inherited, ...inherited } = process.env;
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
    cwd: root,
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...inherited, NO_COLOR: '1', FORCE_COLOR: '0', ...env },
  });
  const out = { stdout: '', stderr: '' };
  const watchers = new Set<() => void>();
  const notify = () => {
    for (const watcher of [...watchers]) watcher();
  };
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => ((out.stdout += chunk), notify()));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => ((out.stderr += chunk), notify()));
  let done = false;
  const exited = new Promise<number | string>((resolve) => {
    child.on('close', (code, signal) => {
      done = true;
      notify();
      resolve(code ?? signal ?? 'unknown');
    });
  });
  return {
    child,
    stdout: () => out.stdout,
    stderr: () => out.stderr,
    exited,
    waitFor(stream, pattern) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (pattern.test(out[stream])) {
            watchers.delete(check);
            resolve(out[stream]);
          } else if (done) {
            watchers.delete(check);
            reject(new Error(`exited before ${pattern} appeared on ${stream}.\nstdout:\n${out.stdout}\nstderr:\n${out.stderr}`));
          }
        };
        watchers.add(check);
        check();
      });
    },
  };
}

/** Counts the matches of `pattern` (global) in `text`. */
export function count(text: string, pattern: RegExp): number {
  return [...text.matchAll(pattern)].length;
}
