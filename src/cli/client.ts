/**
 * `socketchart [<url>]`: an interactive WebSocket client (like wscat or websocat) driven by the connection
 * statechart, with a live status line. Without a URL it starts a local echo server and talks to that, with
 * `--chaos` injecting faults into it. When stdin or stdout is not a terminal it reads lines from stdin, prints
 * what it receives, and exits when done.
 */
import { parseArgs } from 'node:util';
import type { Connection } from '../connection.js';
import { type InspectableConnection, type InspectorServer, serveInspector } from '../inspector/index.js';
import type { ConnectionOptions, HeartbeatOptions } from '../options.js';
import type { BackoffOptions } from '../policies/backoff.js';
import { jsonCodec } from '../messages/codec.js';
import { metrics } from '../plugins/metrics.js';
import { createConnection } from '../node.js';
import { logTransitions } from '../logTransitions.js';
import { createTestServer, type TestServer } from '../testing/testServer.js';
import { AUTH_TOKEN_ENV, authTokenSource } from './authToken.js';
import { type Chaos, FAULTS, type FaultName, startChaos } from './chaos.js';
import { CLIENT_HELP as HELP } from './clientHelp.js';
import type { Command } from './command.js';
import { type CliIO, EXIT_FAILURE, EXIT_OK, UsageError } from './io.js';
import { renderStatusLine } from './statusLine.js';
import { LineScreen, type Screen, TtyScreen } from './terminal.js';

const OPTIONS = {
  protocol: { type: 'string', short: 'p', multiple: true },
  header: { type: 'string', short: 'H', multiple: true },
  'auth-token': { type: 'string' },
  'auth-token-file': { type: 'string' },
  'auth-in': { type: 'string' },
  heartbeat: { type: 'string' },
  'no-heartbeat': { type: 'boolean' },
  json: { type: 'boolean' },
  retries: { type: 'string' },
  drain: { type: 'string' },
  inspect: { type: 'boolean' },
  chaos: { type: 'boolean' },
  'chaos-interval': { type: 'string' },
  'chaos-faults': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** Default heartbeat with the echo server: often enough that RTT shows at once and a blackhole heals quickly. */
const ECHO_HEARTBEAT: HeartbeatOptions = { interval: 1000, timeout: 1000 };
/** Backoff with the echo server: shorter waits (and forgiven after 1 s open), so healing is quick to watch. */
const ECHO_BACKOFF: BackoffOptions = { initialDelay: 250, maxDelay: 4000, resetAfter: 1000, tryAgainLaterDelay: 2000 };

export interface ClientConfig {
  /** null: the embedded echo server. */
  url: string | null;
  protocols: string[];
  headers: Record<string, string>;
  /** Gives the token for each attempt; null: no auth. */
  authToken: (() => string) | null;
  authIn: 'header' | 'query';
  /** ms, false for --no-heartbeat, null for the default. */
  heartbeat: number | false | null;
  json: boolean;
  retries: number | null;
  drain: number;
  inspect: boolean;
  chaos: boolean;
  /** Ms; null: 5000 on a terminal, 2000 for the tour a run without one gets (see `startChaos`'s `tour`). */
  chaosInterval: number | null;
  /** null: every fault the server supports. */
  chaosFaults: FaultName[] | null;
  /** Printed on stderr before the session starts. */
  warnings: string[];
}

/**
 * Parses the client's arguments (and `SOCKETCHART_AUTH_TOKEN` from `env`); throws `UsageError` (or a parseArgs
 * error) for bad ones. Null for `--help`.
 */
export function parseClientArgs(args: readonly string[], env: Readonly<Record<string, string | undefined>> = process.env): ClientConfig | null {
  const { values, positionals } = parseArgs({ args: [...args], options: OPTIONS, allowPositionals: true, strict: true });
  if (values.help) return null;
  if (positionals.length > 1) throw new UsageError(`expected at most one <url>; got ${positionals.map((p) => `'${p}'`).join(', ')}`);
  const url = positionals[0] === undefined ? null : checkUrl(positionals[0]);
  if (values.heartbeat !== undefined && values['no-heartbeat']) throw new UsageError('--heartbeat and --no-heartbeat contradict each other');
  if (values.chaos && url !== null) throw new UsageError('--chaos needs the embedded echo server: leave out the <url>');
  for (const flag of ['chaos-interval', 'chaos-faults'] as const) {
    if (values[flag] !== undefined && !values.chaos) throw new UsageError(`--${flag} needs --chaos`);
  }
  const authIn = values['auth-in'] ?? 'header';
  if (authIn !== 'header' && authIn !== 'query') throw new UsageError(`--auth-in takes 'header' or 'query'; got '${authIn}'`);
  const warnings: string[] = [];
  const authToken = authTokenSource(values['auth-token'], values['auth-token-file'], env, warnings);
  if (values['auth-in'] !== undefined && authToken === null) {
    throw new UsageError(`--auth-in needs a token: --auth-token-file <path>, $${AUTH_TOKEN_ENV} or --auth-token`);
  }

  return {
    url,
    protocols: (values.protocol ?? []).map(checkProtocol),
    headers: parseHeaders(values.header ?? []),
    authToken,
    authIn,
    heartbeat: values['no-heartbeat'] ? false : values.heartbeat === undefined ? null : ms('--heartbeat', values.heartbeat, 1),
    json: values.json === true,
    retries: values.retries === undefined ? null : ms('--retries', values.retries, 0),
    drain: values.drain === undefined ? 1000 : ms('--drain', values.drain, 0),
    inspect: values.inspect === true,
    chaos: values.chaos === true,
    chaosInterval: values['chaos-interval'] === undefined ? null : ms('--chaos-interval', values['chaos-interval'], 10),
    chaosFaults: values['chaos-faults'] === undefined ? null : parseFaults(values['chaos-faults']),
    warnings,
  };
}

function parseFaults(list: string): FaultName[] {
  const names = list.split(',').map((name) => name.trim()).filter((name) => name !== '');
  const unknown = names.filter((name) => !(FAULTS as readonly string[]).includes(name));
  if (names.length === 0 || unknown.length > 0) {
    throw new UsageError(`--chaos-faults takes a comma-separated list of ${FAULTS.join(', ')}; got '${list}'`);
  }
  return [...new Set(names as FaultName[])];
}

function checkUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(`'${text}' is not a URL (expected ws://host[:port]/path or wss://...)`);
  }
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:') {
    throw new UsageError(`unsupported URL scheme '${url.protocol}' in '${text}' (expected ws:// or wss://)`);
  }
  return url.href;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

function checkProtocol(name: string): string {
  if (!TOKEN.test(name)) throw new UsageError(`--protocol '${name}' is not a valid subprotocol name (letters, digits and !#$%&'*+-.^_\`|~)`);
  return name;
}

function parseHeaders(lines: readonly string[]): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    const name = colon < 0 ? '' : line.slice(0, colon).trim();
    if (colon < 0 || !TOKEN.test(name)) throw new UsageError(`--header '${line}' is not 'Name: value'`);
    headers[name] = line.slice(colon + 1).trim();
  }
  return headers;
}

function ms(flag: string, text: string, min: number): number {
  const value = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(value) || value < min) {
    throw new UsageError(`${flag} takes a whole number >= ${min}; got '${text}'`);
  }
  return value;
}

/** Everything the client option parser knows, for `accepts`: `socketchart --chaos` is the client too. */
const KNOWN_FLAGS = new Set(
  Object.entries(OPTIONS).flatMap(([name, spec]) => ['--' + name, ...('short' in spec ? ['-' + spec.short] : [])]),
);

export const clientCommand: Command = {
  name: 'connect',
  summary: 'the default: `socketchart [<url>] [options]`, a client with a live status line (no URL: a local echo server)',
  help: HELP,
  accepts(first) {
    if (first === '') return true; // `socketchart` alone: the echo server
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(first)) return true;
    return first.startsWith('-') && KNOWN_FLAGS.has(first.split('=')[0] ?? '');
  },
  async run(args, io) {
    const config = parseClientArgs(args);
    if (config === null) {
      io.stdout(HELP);
      return EXIT_OK;
    }
    for (const warning of config.warnings) io.stderr(`socketchart: warning: ${warning}\n`);
    return runClient(config, io);
  },
};

/** Runs a session to its end and resolves to the exit code. */
export async function runClient(config: ClientConfig, io: CliIO): Promise<number> {
  const server = config.url === null ? await createTestServer() : null;
  const url = config.url ?? (server as TestServer).url();
  const conn = createConnection(url, connectionOptions(config, server !== null)) as Connection<unknown, unknown>;
  return new Session(config, io, conn, server).run();
}

function connectionOptions(config: ClientConfig, echo: boolean): ConnectionOptions<unknown, unknown> {
  // Started by the session once its listeners are in place, so the first CONNECTING is logged too. The status
  // line shows message counts: the metrics plug-in counts them.
  const options: ConnectionOptions<unknown, unknown> = { startClosed: true, metrics: metrics() };
  if (config.protocols.length > 0) options.protocols = config.protocols;
  if (Object.keys(config.headers).length > 0) options.headers = config.headers;
  if (config.authToken !== null) options.auth = { token: config.authToken, mode: config.authIn };
  if (config.heartbeat === false) options.heartbeat = false;
  else if (config.heartbeat !== null) options.heartbeat = { interval: config.heartbeat, timeout: Math.min(config.heartbeat, 5000) };
  else if (echo) options.heartbeat = ECHO_HEARTBEAT;
  if (echo) options.backoff = ECHO_BACKOFF;
  if (config.json) options.codec = jsonCodec();
  if (config.retries !== null) options.backoff = { ...options.backoff, maxRetries: config.retries };
  return options;
}

interface Pending {
  /** The frame as it goes on the wire, to match the echo. */
  readonly key: string;
  readonly payload: unknown;
  /** The open (1, 2, ...) whose socket carried it; 0 if it was dropped and must be sent again. */
  generation: number;
}

class Session {
  readonly #config: ClientConfig;
  readonly #conn: Connection<unknown, unknown>;
  readonly #server: TestServer | null;
  readonly #screen: Screen;
  readonly #stopLog: () => void;
  readonly #done: Promise<number>;
  #resolve!: (code: number) => void;
  #chaos: Chaos | null = null;
  /** Without a terminal the chaos is a tour of every fault once; the run ends only after it. */
  #tourOver = true;
  #inspector: InspectorServer | null = null;
  #ticker: ReturnType<typeof setInterval> | undefined;
  #drainTimer: ReturnType<typeof setTimeout> | undefined;
  #finishing = false;
  #inputEnded = false;
  #invalidLines = 0;
  #opens = 0;
  /** Lines sent to the echo server whose echo has not come back yet. */
  #pending: Pending[] = [];
  #lastTraffic = Date.now();
  #retry: { attempt: number; at: number } | null = null;

  constructor(config: ClientConfig, io: CliIO, conn: Connection<unknown, unknown>, server: TestServer | null) {
    this.#config = config;
    this.#conn = conn;
    this.#server = server;
    this.#done = new Promise((resolve) => (this.#resolve = resolve));

    const handlers = {
      line: (text: string) => this.#onLine(text),
      end: () => this.#onInputEnd(),
      interrupt: () => this.#onInterrupt(),
    };
    const interactive = process.stdin.isTTY === true && process.stdout.isTTY === true;
    this.#screen = interactive
      ? new TtyScreen(process.stdin, process.stdout, (columns) => this.#statusLine(columns), handlers)
      : new LineScreen(io, process.stdin, handlers);
    const color = interactive || process.stderr.isTTY === true;
    this.#stopLog = logTransitions(conn as Connection, { write: (line) => this.#screen.note(line), color });
    this.#listen();
  }

  async run(): Promise<number> {
    const screen = this.#screen;
    if (this.#server) screen.note(`echo server listening on ${this.#server.url()} (every message comes back)`);
    screen.note(`connecting to ${this.#config.url ?? this.#server?.url() ?? ''}${screen.interactive ? ' - type a line and press Enter to send it; Ctrl-C quits' : ''}`);
    if (this.#config.inspect) {
      try {
        this.#inspector = await serveInspector(this.#conn as unknown as InspectableConnection);
        screen.note(`inspector: the live statechart view is at ${this.#inspector.url}`);
      } catch (error) {
        screen.note(`inspector: not started (${describeError(error)}); continuing without it`);
      }
    }
    if (this.#config.chaos && this.#server) {
      // Without a terminal (CI, `npm start < /dev/null`) stdin may end at once: the demo then shows each fault healing
      // once and ends, instead of closing before the first fault or running forever.
      const tour = !screen.interactive;
      const interval = this.#config.chaosInterval ?? (tour ? 2000 : 5000);
      const chaos = startChaos(this.#server, {
        interval,
        tour,
        faults: this.#config.chaosFaults ?? undefined,
        log: (line) => screen.note(line),
        isOpen: () => this.#conn.readyState === 1,
        nextOpen: () => this.#next('open'),
        nextClose: () => this.#next('close'),
      });
      this.#chaos = chaos;
      screen.note(
        chaos.faults.length === 0
          ? 'chaos: this echo server supports none of the requested faults; no chaos'
          : tour
            ? `chaos: injecting each of ${chaos.faults.join(', ')} once, about ${interval} ms after each open, then closing (no terminal: Ctrl-C ends it sooner)`
            : `chaos: injecting ${chaos.faults.join(', ')} about ${interval} ms after each open`,
      );
      if (tour && chaos.faults.length > 0) {
        this.#tourOver = false;
        void chaos.finished.then(() => {
          if (this.#finishing) return;
          this.#tourOver = true;
          screen.note(`chaos: tour over - ${chaos.faults.length} faults injected, the connection healed after each`);
          this.#checkDone();
        });
      }
    }
    if (screen.interactive) this.#ticker = setInterval(() => screen.refresh(), 250);
    this.#conn.open();
    return this.#done;
  }

  #next(type: 'open' | 'close'): Promise<void> {
    return new Promise((resolve) => this.#conn.addEventListener(type, () => resolve(), { once: true }));
  }

  #listen(): void {
    const conn = this.#conn;
    conn.addEventListener('open', () => {
      this.#opens++;
      this.#retry = null;
      // Lines whose socket died before their echo came back: send them again on this one.
      for (const entry of this.#pending) {
        if (entry.generation < this.#opens) {
          entry.generation = this.#opens;
          conn.send(entry.payload);
        }
      }
      this.#checkDone();
    });
    conn.addEventListener('reconnecting', (e) => {
      this.#retry = { attempt: e.attempt, at: Date.now() + e.delay };
      this.#screen.refresh();
    });
    conn.addEventListener('statechange', () => this.#screen.refresh());
    conn.addEventListener('message', (e) => {
      this.#lastTraffic = Date.now();
      this.#screen.message(this.#format(e.data));
      if (this.#server) {
        const key = this.#frameOf(e.data);
        const index = this.#pending.findIndex((p) => p.key === key);
        if (index >= 0) this.#pending.splice(index, 1);
      }
      this.#checkDone();
    });
    conn.addEventListener('invalid-message', (e) => {
      this.#lastTraffic = Date.now();
      this.#screen.note(`received a message that is not JSON (${describeError(e.problem)}): ${this.#raw(e.data)}`);
    });
    conn.addEventListener('drop', (e) => {
      const entry = this.#pending.find((p) => p.key === e.data);
      if (entry && e.reason !== 'closed') entry.generation = 0;
    });
    conn.addEventListener('close', (e) => {
      // The session ended without close() (a fatal code, refused auth, retries used up): nothing more will happen.
      if (e.closedBy && !this.#finishing) {
        this.#screen.note(`the connection ended for good (${e.closedBy.kind}, code ${e.closedBy.code}${e.closedBy.reason ? `: ${e.closedBy.reason}` : ''})`);
        void this.#finish(EXIT_FAILURE);
      }
    });
  }

  #onLine(line: string): void {
    if (this.#finishing || line.trim() === '') return;
    let payload: unknown = line;
    if (this.#config.json) {
      try {
        payload = JSON.parse(line);
      } catch (error) {
        this.#invalidLines++;
        this.#screen.note(`not sent: not valid JSON (${describeError(error)}): ${line}`);
        return;
      }
    }
    this.#screen.sent(this.#config.json ? JSON.stringify(payload) : line);
    if (this.#server) {
      const open = this.#conn.readyState === 1;
      this.#pending.push({ key: this.#frameOf(payload), payload, generation: open ? this.#opens : this.#opens + 1 });
    }
    this.#conn.send(payload);
    this.#lastTraffic = Date.now();
  }

  #onInputEnd(): void {
    this.#inputEnded = true;
    // Interactive: Ctrl-D is a request to quit.
    if (this.#screen.interactive) void this.#finish(EXIT_OK);
    else this.#checkDone();
  }

  #onInterrupt(): void {
    if (this.#finishing) {
      // A second Ctrl-C while closing: stop waiting.
      process.exit(130);
    }
    void this.#finish(EXIT_OK);
  }

  /** Non-interactive: done when stdin ended and everything came back (echo) or went quiet (remote). */
  #checkDone(): void {
    if (!this.#inputEnded || !this.#tourOver || this.#finishing || this.#opens === 0) return;
    if (this.#server) {
      if (this.#pending.length === 0) void this.#finish(this.#exitCode());
      return;
    }
    clearTimeout(this.#drainTimer);
    const wait = () => {
      const quiet = Date.now() - this.#lastTraffic;
      const flushed = this.#conn.readyState === 1 && this.#conn.metrics.queueLength === 0;
      if (flushed && quiet >= this.#config.drain) void this.#finish(this.#exitCode());
      else this.#drainTimer = setTimeout(wait, Math.max(50, this.#config.drain - quiet));
    };
    wait();
  }

  #exitCode(): number {
    return this.#invalidLines > 0 ? EXIT_FAILURE : EXIT_OK;
  }

  async #finish(code: number): Promise<void> {
    if (this.#finishing) return;
    this.#finishing = true;
    clearTimeout(this.#drainTimer);
    await this.#chaos?.stop();
    const conn = this.#conn;
    if (!conn.matches('closed')) {
      const closed = new Promise<void>((resolve) => {
        const check = () => {
          if (conn.matches('closed')) {
            conn.removeEventListener('statechange', check);
            resolve();
          }
        };
        conn.addEventListener('statechange', check);
      });
      conn.close(1000, 'socketchart: bye');
      await closed;
    }
    clearInterval(this.#ticker);
    this.#stopLog();
    this.#screen.close();
    await this.#inspector?.close();
    await this.#server?.close();
    this.#resolve(code);
  }

  #statusLine(columns: number): string {
    const conn = this.#conn;
    const metrics = conn.metrics;
    return renderStatusLine(
      {
        state: conn.state,
        attempt: this.#retry?.attempt ?? null,
        retryIn: this.#retry ? this.#retry.at - Date.now() : null,
        uptime: metrics.uptime,
        messagesIn: metrics.messagesIn ?? 0,
        messagesOut: metrics.messagesOut ?? 0,
        rtt: metrics.rtt,
        reconnects: metrics.reconnects,
      },
      { columns, color: true },
    );
  }

  /** The frame a payload becomes (what the echo server sends back). */
  #frameOf(payload: unknown): string {
    if (this.#config.json) return JSON.stringify(payload);
    return typeof payload === 'string' ? payload : this.#raw(payload);
  }

  #format(data: unknown): string {
    if (this.#config.json) return JSON.stringify(data, null, 2);
    return this.#raw(data);
  }

  #raw(data: unknown): string {
    if (typeof data === 'string') return data;
    if (data instanceof ArrayBuffer || ArrayBuffer.isView(data)) {
      const bytes = data instanceof ArrayBuffer ? new Uint8Array(data) : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
      const hex = Array.from(bytes.subarray(0, 32), (b) => b.toString(16).padStart(2, '0')).join(' ');
      return `[binary, ${bytes.length} bytes] ${hex}${bytes.length > 32 ? ' …' : ''}`;
    }
    return String(data);
  }
}

function describeError(error: unknown): string {
  if (error instanceof Error) return error.message;
  if (Array.isArray(error)) return error.map((issue: { message?: string }) => issue.message ?? String(issue)).join('; ');
  return String(error);
}
