import type { Connection } from './connection.js';
import { invalidOption } from './errors.js';

export interface TransitionLogOptions {
  /**
   * Where lines go.
   * @default console.log
   */
  write?: (line: string) => void;
  /**
   * `true`: an ANSI-colored dot (`●` in green, yellow or red) marks each line. `false`: the color's name in brackets
   * instead (`[green]`, `[yellow]`, `[red]`), no escape codes. The label (`OPEN`, `CLOSED`...) is the same either way.
   * @default true when `process.stdout.isTTY` and `NO_COLOR` is unset or empty (see no-color.org)
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

function colorByDefault(): boolean {
  const proc = (globalThis as { process?: { stdout?: { isTTY?: boolean }; env?: Record<string, string | undefined> } }).process;
  return proc?.stdout?.isTTY === true && !proc.env?.NO_COLOR;
}

function clockTime(date: Date): string {
  return date.toTimeString().slice(0, 8);
}

/**
 * A connection from `createConnection()`: its events and its actor. A pool, or any other event target, does not
 * emit the events read below (its listeners would get the wrong event types).
 */
function checkArguments(conn: unknown, options: unknown): void {
  const c = conn as { addEventListener?: unknown; actor?: { subscribe?: unknown; logic?: { id?: unknown } } | null } | null;
  if (
    typeof c !== 'object' ||
    c === null ||
    typeof c.addEventListener !== 'function' ||
    typeof c.actor !== 'object' ||
    c.actor === null ||
    typeof c.actor.subscribe !== 'function' ||
    // A pool has an actor too, but its chart is not a connection's.
    c.actor.logic?.id !== 'connection'
  ) {
    throw invalidOption('logTransitions(conn)', 'a connection from createConnection() (a pool: log each of pool.connections)', conn);
  }
  if (typeof options !== 'object' || options === null) throw invalidOption('logTransitions(conn, options)', 'an object', options);
  const { write, color, time } = options as Record<string, unknown>;
  if (write !== undefined && typeof write !== 'function') throw invalidOption('write', 'a function (line: string) => void', write);
  if (color !== undefined && typeof color !== 'boolean') throw invalidOption('color', 'true or false', color);
  if (time !== undefined && typeof time !== 'function') throw invalidOption('time', 'a function (date: Date) => string', time);
}

/**
 * Prints the connection's lifecycle as it happens, one line per moment, `[time] mark LABEL - detail`:
 *
 * - `CONNECTING - connecting.opening` (yellow): the chart entered a `connecting` state; the detail is its path
 *   (`connecting.authenticating` gets its own line);
 * - `OPEN - Ready to communicate` (green);
 * - `DISCONNECTED - Code: 1006, Reason: none given` (yellow): a socket ended and the chart goes on reconnecting;
 * - `RECONNECTING - retry 1 in 200 ms` (yellow): a backoff began;
 * - `WAITING FOR NETWORK` (yellow): `reconnecting.waitingForNetwork`;
 * - `CLOSING` (red): `close()` sent a close frame;
 * - `CLOSED - Code: 1000, Reason: bye (user)` (red): the session ended, with `closedBy.kind` in parentheses;
 * - `ERROR - <message>` (red).
 *
 * An empty close reason shows as `none given`. The mark is a colored `●`, or `[green]`/`[yellow]`/`[red]` without
 * color (see `color`). Only transitions that happen after the call are printed. Returns a function that stops the log.
 */
export function logTransitions(conn: Connection, options: TransitionLogOptions = {}): () => void {
  checkArguments(conn, options);
  const write = options.write ?? ((line: string) => console.log(line));
  const color = options.color ?? colorByDefault();
  const time = options.time ?? clockTime;

  const line = (tone: Tone, label: string, detail?: string) => {
    const mark = color ? `${ANSI[tone]}●\x1b[0m` : `[${tone}]`;
    write(`[${time(new Date())}] ${mark} ${label}${detail ? ` - ${detail}` : ''}`);
  };

  // A new attempt that replaces a socket at once (reconnect(), a refused token) commits its statechange ahead of the
  // old socket's close or error: its CONNECTING line waits for them, so the log reads in the order things happened.
  let heldConnecting: string | null = null;
  const releaseConnecting = () => {
    if (heldConnecting === null) return;
    const to = heldConnecting;
    heldConnecting = null;
    line('yellow', 'CONNECTING', to);
  };

  const controller = new AbortController();
  const { signal } = controller;
  conn.addEventListener(
    'statechange',
    (e) => {
      releaseConnecting();
      if (e.to.startsWith('connecting')) {
        if (e.from === 'open' || e.from === 'closing' || e.from === 'connecting.authenticating') {
          heldConnecting = e.to;
          queueMicrotask(releaseConnecting);
        } else line('yellow', 'CONNECTING', e.to);
      } else if (e.to === 'closing') line('red', 'CLOSING');
      else if (e.to === 'reconnecting.waitingForNetwork') line('yellow', 'WAITING FOR NETWORK');
    },
    { signal },
  );
  conn.addEventListener(
    'open',
    () => {
      releaseConnecting();
      line('green', 'OPEN', 'Ready to communicate');
    },
    { signal },
  );
  conn.addEventListener(
    'reconnecting',
    (e) => {
      releaseConnecting();
      line('yellow', 'RECONNECTING', `retry ${e.attempt} in ${e.delay} ms`);
    },
    { signal },
  );
  conn.addEventListener(
    'close',
    (e) => {
      const detail = `Code: ${e.code}, Reason: ${e.reason || 'none given'}`;
      if (e.closedBy) line('red', 'CLOSED', `${detail} (${e.closedBy.kind})`);
      else line('yellow', 'DISCONNECTED', detail);
      releaseConnecting();
    },
    { signal },
  );
  conn.addEventListener(
    'error',
    (e) => {
      line('red', 'ERROR', e.message);
      releaseConnecting();
    },
    { signal },
  );
  return () => {
    releaseConnecting();
    controller.abort();
  };
}
