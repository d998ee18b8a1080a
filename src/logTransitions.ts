import type { Connection } from './connection.js';
import { SocketchartError, describe } from './errors.js';

export interface TransitionLogOptions {
  /**
   * Where lines go.
   * @default console.log
   */
  write?: (line: string) => void;
  /**
   * Colored indicators (ANSI green/yellow/red dots). Plain `[OPEN]`-style tags otherwise.
   * @default true when stdout is a TTY
   */
  color?: boolean;
  /**
   * Timestamp format.
   * @default local time, `HH:MM:SS`
   */
  time?: (date: Date) => string;
}

type Tone = 'green' | 'yellow' | 'red';
const ANSI: Record<Tone, string> = { green: '\x1b[32m', yellow: '\x1b[33m', red: '\x1b[31m' };

function isTty(): boolean {
  const proc = (globalThis as { process?: { stdout?: { isTTY?: boolean } } }).process;
  return proc?.stdout?.isTTY === true;
}

function clockTime(date: Date): string {
  return date.toTimeString().slice(0, 8);
}

/**
 * Prints the connection's lifecycle as it happens, one line per moment:
 * `[12:00:01] ● CONNECTING`, `[12:00:02] ● OPEN - Ready to communicate`, `[12:00:30] ● CLOSED - Code: 1000, Reason: bye`.
 * Returns a function that stops the log.
 */
export function logTransitions(conn: Connection, options: TransitionLogOptions = {}): () => void {
  if (typeof conn !== 'object' || conn === null || typeof (conn as { addEventListener?: unknown }).addEventListener !== 'function') {
    throw new SocketchartError('ERR_INVALID_OPTION', `logTransitions(conn) takes a connection from createConnection(); got ${describe(conn)}.`);
  }
  if (typeof options !== 'object' || options === null) {
    throw new SocketchartError('ERR_INVALID_OPTION', `logTransitions(conn, options) takes an object; got ${describe(options)}.`);
  }
  const write = options.write ?? ((line: string) => console.log(line));
  const color = options.color ?? isTty();
  const time = options.time ?? clockTime;

  const line = (tone: Tone, label: string, detail?: string) => {
    const mark = color ? `${ANSI[tone]}●\x1b[0m` : `[${tone}]`;
    write(`[${time(new Date())}] ${mark} ${label}${detail ? ` - ${detail}` : ''}`);
  };

  const controller = new AbortController();
  const { signal } = controller;
  conn.addEventListener(
    'statechange',
    (e) => {
      if (e.to.startsWith('connecting')) line('yellow', 'CONNECTING', e.to);
      else if (e.to === 'closing') line('red', 'CLOSING');
      else if (e.to === 'reconnecting.waitingForNetwork') line('yellow', 'WAITING FOR NETWORK');
    },
    { signal },
  );
  conn.addEventListener('open', () => line('green', 'OPEN', 'Ready to communicate'), { signal });
  conn.addEventListener(
    'reconnecting',
    (e) => line('yellow', 'RECONNECTING', `retry ${e.attempt} in ${e.delay} ms`),
    { signal },
  );
  conn.addEventListener(
    'close',
    (e) => {
      const detail = `Code: ${e.code}, Reason: ${e.reason || 'none given'}`;
      if (e.closedBy) line('red', 'CLOSED', `${detail} (${e.closedBy.kind})`);
      else line('yellow', 'DISCONNECTED', detail);
    },
    { signal },
  );
  conn.addEventListener('error', (e) => line('red', 'ERROR', e.message), { signal });
  return () => controller.abort();
}
