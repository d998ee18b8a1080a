/**
 * The interactive client's status line, as a pure function of a snapshot and the terminal width, so it can be
 * tested without a terminal: `● open │ up 0:12 │ in 3 out 3 │ rtt 2 ms`.
 */

export type Tone = 'green' | 'yellow' | 'red';

/** What the status line shows; `client.ts` builds one from the connection each time it redraws. */
export interface StatusSnapshot {
  /** The public state path: `'connecting.opening'`, `'open'`, `'reconnecting.backoff'`, `'closed'`... */
  readonly state: string;
  /** The retry number while reconnecting (from the last `reconnecting` event), else null. */
  readonly attempt: number | null;
  /** Ms until that retry (negative or zero once it is due), else null. */
  readonly retryIn: number | null;
  /** Ms the current connection has been open. */
  readonly uptime: number;
  readonly messagesIn: number;
  readonly messagesOut: number;
  /** The last heartbeat round trip in ms, null before the first pong (or with the heartbeat off). */
  readonly rtt: number | null;
  /** Opens after the first one. */
  readonly reconnects?: number;
}

export interface RenderOptions {
  /** Terminal width in columns; the line is cut to `columns - 1` so it never wraps. */
  readonly columns: number;
  /** ANSI colors (the indicator dot and dimmed separators). */
  readonly color: boolean;
}

const ANSI = { green: '\x1b[32m', yellow: '\x1b[33m', red: '\x1b[31m', dim: '\x1b[2m', reset: '\x1b[0m' } as const;

/** Green while open, red while closing or closed, yellow for everything on the way (idle, connecting, reconnecting). */
export function toneOf(state: string): Tone {
  if (state === 'open' || state.startsWith('open.')) return 'green';
  if (state === 'closed' || state === 'closing' || state.startsWith('closing.')) return 'red';
  return 'yellow';
}

/** `0:07`, `12:30`, `1:02:03`. */
export function formatDuration(ms: number): string {
  const total = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = String(total % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`;
}

/** `350 ms`, `1.2 s`, `30 s`. */
export function formatDelay(ms: number): string {
  const value = Math.max(0, ms);
  if (value < 1000) return `${Math.round(value)} ms`;
  if (value < 10_000) return `${(value / 1000).toFixed(1)} s`;
  return `${Math.round(value / 1000)} s`;
}

// eslint-disable-next-line no-control-regex
const SGR = /\x1b\[[0-9;]*m/g;
// eslint-disable-next-line no-control-regex
const SGR_SPLIT = /(\x1b\[[0-9;]*m)/;

/** Width in columns, ignoring color codes (every character here is one column wide). */
export function visibleWidth(text: string): number {
  return [...text.replace(SGR, '')].length;
}

/** Cuts `text` to `width` visible columns (ending in `…` when cut), keeping color codes intact. */
export function truncate(text: string, width: number): string {
  if (visibleWidth(text) <= width) return text;
  if (width <= 0) return '';
  let out = '';
  let used = 0;
  let colored = false;
  for (const part of text.split(SGR_SPLIT)) {
    if (part.startsWith('\x1b[')) {
      out += part;
      colored = part !== ANSI.reset;
      continue;
    }
    for (const char of part) {
      if (used === width - 1) return `${out}…${colored ? ANSI.reset : ''}`;
      out += char;
      used++;
    }
  }
  return out;
}

/** The status line for `snapshot`, at most `columns - 1` columns wide, no newline. */
export function renderStatusLine(snapshot: StatusSnapshot, options: RenderOptions): string {
  const { color } = options;
  const tone = toneOf(snapshot.state);
  const paint = (code: string, text: string) => (color ? `${code}${text}${ANSI.reset}` : text);
  const dot = color ? paint(ANSI[tone], '●') : `[${tone}]`;

  const fields: string[] = [];
  if (snapshot.attempt !== null && !snapshot.state.startsWith('open')) {
    const due = snapshot.state.startsWith('reconnecting') && snapshot.retryIn !== null;
    fields.push(due ? `retry ${snapshot.attempt} in ${formatDelay(snapshot.retryIn ?? 0)}` : `retry ${snapshot.attempt}`);
  }
  if (tone === 'green') fields.push(`up ${formatDuration(snapshot.uptime)}`);
  fields.push(`in ${snapshot.messagesIn} out ${snapshot.messagesOut}`);
  fields.push(`rtt ${snapshot.rtt === null ? '-' : `${Math.round(snapshot.rtt)} ms`}`);
  if (snapshot.reconnects) fields.push(`reconnects ${snapshot.reconnects}`);

  const separator = paint(ANSI.dim, ' │ ');
  const line = `${dot} ${snapshot.state}${separator}${fields.join(separator)}`;
  return truncate(line, Math.max(1, options.columns - 1));
}
