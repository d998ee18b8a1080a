import { createReadStream } from 'node:fs';
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import type { Subscription as ActorSubscription } from 'xstate';
import type { Connection } from '../connection.js';
import { SocketchartError, invalidOption } from '../errors.js';
import { readyStateOf, statePathOf } from '../statePath.js';
import { type ChartDescription, activePaths, describeChart, leafPaths } from './chart.js';
import { PAGE_HTML, PAGE_SCRIPT } from './page.js';

export interface InspectorOptions {
  /**
   * Port for the page; 0 picks a free one (read it from `url`).
   * @default 0
   */
  port?: number;
  /**
   * Interface to listen on. The page shows the connection's URL and events: keep it on loopback.
   * @default '127.0.0.1'
   */
  host?: string;
  /**
   * Log entries kept for pages opened later.
   * @default 1000
   */
  historyLimit?: number;
  /**
   * The Mermaid browser bundle to serve.
   * @default `mermaid/dist/mermaid.min.js` from the installed `mermaid` package
   */
  mermaidScript?: string;
}

export interface InspectorServer {
  /** The page: `http://127.0.0.1:<port>/`. */
  readonly url: string;
  /** Stops serving: ends every open page's stream, stops listening, stops following the connection. Idempotent. */
  close(): Promise<void>;
}

/** A line of the page's event log. */
export interface InspectorLogEntry {
  /** Wall-clock time, ms since the epoch. */
  at: number;
  kind: 'inspector' | 'statechange' | 'open' | 'close' | 'reconnecting' | 'error' | 'giveup' | 'drop';
  text: string;
  /** For `statechange`: the state entered. */
  state?: string;
}

/** What the page shows for the chart at one moment. */
export interface InspectorState {
  /** The public state path (`conn.state`). */
  state: string;
  readyState: 0 | 1 | 2 | 3;
  reconnects: number;
  /** Every active state's full path (`attempt`, `attempt.open`, `attempt.open.heartbeat`, ...). */
  active: string[];
  /** The deepest active state of each region. */
  leaves: string[];
}

/** Any connection, whatever its message types. */
export type InspectableConnection = Pick<Connection<never, never>, 'actor' | 'url' | 'metrics' | 'addEventListener'>;

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

/** Where the installed `mermaid` package keeps its browser bundle. */
export function resolveMermaidScript(): string {
  try {
    // tsup shims `import.meta.url` in the CJS build.
    return createRequire(import.meta.url).resolve('mermaid/dist/mermaid.min.js');
  } catch {
    throw new SocketchartError(
      'ERR_MISSING_PEER',
      "The inspector renders the chart with the 'mermaid' package, which is not installed: run `npm install mermaid` (nothing is loaded from a CDN).",
    );
  }
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null;

/** Checked before anything listens or follows the connection (a bad port would throw a RangeError from listen()). */
function checkInspectorArguments(conn: unknown, options: unknown): void {
  const actor = isObject(conn) ? conn.actor : undefined;
  if (
    !isObject(conn) ||
    typeof conn.addEventListener !== 'function' ||
    !isObject(conn.metrics) ||
    !isObject(actor) ||
    typeof actor.getSnapshot !== 'function' ||
    typeof actor.subscribe !== 'function'
  ) {
    throw invalidOption('serveInspector(conn)', 'a connection from createConnection()', conn);
  }
  if (!isObject(options)) throw invalidOption('serveInspector(conn, options)', 'an object { port?, host?, historyLimit?, mermaidScript? }', options);
  const { port, host, historyLimit, mermaidScript } = options;
  if (port !== undefined && !(Number.isInteger(port) && (port as number) >= 0 && (port as number) <= 65535)) {
    throw invalidOption('port', 'a whole number from 0 to 65535 (0 picks a free port)', port);
  }
  if (host !== undefined && (typeof host !== 'string' || host === '')) throw invalidOption('host', "a host name or address such as '127.0.0.1'", host);
  if (historyLimit !== undefined && !(typeof historyLimit === 'number' && historyLimit >= 0 && (Number.isInteger(historyLimit) || historyLimit === Infinity))) {
    throw invalidOption('historyLimit', 'a whole number >= 0 (or Infinity)', historyLimit);
  }
  if (mermaidScript !== undefined && (typeof mermaidScript !== 'string' || mermaidScript === '')) {
    throw invalidOption('mermaidScript', 'the path of the Mermaid browser bundle', mermaidScript);
  }
}

/**
 * Serves a live view of `conn` on 127.0.0.1: its statechart drawn by Mermaid in the page (from the installed
 * `mermaid` package, no CDN), the active state highlighted as it changes, and the event log with timestamps, kept
 * current over Server-Sent Events. Resolves once listening; `close()` stops everything it started (it does not
 * close the connection).
 */
export async function serveInspector(conn: InspectableConnection, options: InspectorOptions = {}): Promise<InspectorServer> {
  checkInspectorArguments(conn, options);
  const host = options.host ?? '127.0.0.1';
  const historyLimit = options.historyLimit ?? 1000;
  const mermaidScript = options.mermaidScript ?? resolveMermaidScript();
  const chart: ChartDescription = describeChart();
  const streams = new Set<ServerResponse>();
  const history: InspectorLogEntry[] = [];
  const stopListening = new AbortController();

  const currentState = (): InspectorState => {
    const snapshot = conn.actor.getSnapshot();
    const active = activePaths(snapshot.value);
    return {
      state: statePathOf(snapshot),
      readyState: readyStateOf(snapshot),
      reconnects: conn.metrics.reconnects,
      active,
      leaves: leafPaths(active),
    };
  };

  const broadcast = (event: 'state' | 'log', data: unknown): void => {
    const frame = `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
    for (const res of streams) res.write(frame);
  };

  const record = (entry: Omit<InspectorLogEntry, 'at'>): void => {
    const full: InspectorLogEntry = { at: Date.now(), ...entry };
    history.push(full);
    if (history.length > historyLimit) history.splice(0, history.length - historyLimit);
    broadcast('log', full);
  };

  // ---- following the connection ---------------------------------------------------------------------------

  // Every snapshot, so regions that don't change `conn.state` (the heartbeat inside `open`) are followed too. The
  // public path is computed from the snapshot: observers run before the facade has committed its new `state`.
  let lastKey = '';
  const follow: ActorSubscription = conn.actor.subscribe({
    next: () => {
      const state = currentState();
      const key = `${state.readyState}|${state.active.join(',')}|${state.reconnects}`;
      if (key === lastKey) return;
      lastKey = key;
      broadcast('state', state);
    },
    error: () => {},
  });
  const { signal } = stopListening;
  conn.addEventListener('statechange', (e) => record({ kind: 'statechange', state: e.to, text: `${e.from} → ${e.to} (${e.event.type})` }), { signal });
  conn.addEventListener('open', () => record({ kind: 'open', text: 'Ready to communicate' }), { signal });
  conn.addEventListener(
    'close',
    (e) => {
      const by = e.closedBy ? ` (closed: ${e.closedBy.kind})` : '';
      record({ kind: 'close', text: `Code: ${e.code}, Reason: ${e.reason || 'none given'}${e.wasClean ? '' : ', not clean'}${by}` });
    },
    { signal },
  );
  conn.addEventListener('reconnecting', (e) => record({ kind: 'reconnecting', text: `retry ${e.attempt} in ${e.delay} ms` }), { signal });
  conn.addEventListener('error', (e) => record({ kind: 'error', text: e.message }), { signal });
  conn.addEventListener('giveup', (e) => record({ kind: 'giveup', text: `gave up: ${e.closedBy.reason || e.closedBy.kind}` }), { signal });
  conn.addEventListener('drop', (e) => record({ kind: 'drop', text: `message dropped (${e.reason})` }), { signal });

  // ---- serving ----------------------------------------------------------------------------------------------

  let server: Server | null = null;
  let origin = '';

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    res.setHeader('cache-control', 'no-store');
    res.setHeader('x-content-type-options', 'nosniff');
    if (!hostAllowed(req.headers.host, host, origin)) {
      // A page elsewhere that resolves its own name to 127.0.0.1 (DNS rebinding) must not read the stream.
      res.writeHead(421, { 'content-type': 'text/plain' }).end('Misdirected request\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    const path = (req.url ?? '/').split('?')[0];
    switch (path) {
      case '/':
      case '/index.html':
        res
          .writeHead(200, {
            'content-type': 'text/html; charset=utf-8',
            'content-security-policy':
              "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; connect-src 'self'",
          })
          .end(PAGE_HTML);
        return;
      case '/inspector.js':
        res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8' }).end(PAGE_SCRIPT);
        return;
      case '/mermaid.min.js': {
        const file = createReadStream(mermaidScript);
        file.once('error', () => {
          if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
          res.end('mermaid is not installed\n');
        });
        file.once('open', () => {
          res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8' });
          file.pipe(res);
        });
        return;
      }
      case '/state.json':
        res
          .writeHead(200, { 'content-type': 'application/json' })
          .end(JSON.stringify({ url: conn.url, state: currentState(), log: history }));
        return;
      case '/events':
        res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', connection: 'keep-alive' });
        res.write(`retry: 1000\n\nevent: init\ndata: ${JSON.stringify({ url: conn.url, ...chart, state: currentState(), log: history })}\n\n`);
        streams.add(res);
        res.once('close', () => streams.delete(res));
        return;
      default:
        res.writeHead(404, { 'content-type': 'text/plain' }).end('Not found\n');
    }
  };

  const listening = createServer(handle);
  try {
    await new Promise<void>((resolve, reject) => {
      listening.once('error', reject);
      listening.listen(options.port ?? 0, host, () => {
        listening.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    follow.unsubscribe();
    stopListening.abort();
    throw error;
  }
  server = listening;
  const address = server.address() as AddressInfo;
  origin = `${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
  const url = `http://${origin}/`;
  record({ kind: 'inspector', text: `watching ${conn.url || 'the connection'} (state ${currentState().state})` });

  let closing: Promise<void> | null = null;
  return {
    url,
    close() {
      closing ??= new Promise<void>((resolve) => {
        follow.unsubscribe();
        stopListening.abort();
        for (const res of streams) res.end();
        streams.clear();
        const s = server as Server;
        s.close(() => resolve());
        s.closeAllConnections();
      });
      return closing;
    },
  };
}

/** Only requests addressed to this server by a loopback name (or, off loopback, to the address it listens on). */
function hostAllowed(header: string | undefined, host: string, origin: string): boolean {
  if (header === undefined) return false;
  if (header === origin) return true;
  if (!LOOPBACK.has(host)) return true;
  const port = origin.slice(origin.lastIndexOf(':') + 1);
  const colon = header.lastIndexOf(':');
  if (colon < 0 || header.slice(colon + 1) !== port) return false;
  return LOOPBACK.has(header.slice(0, colon).toLowerCase());
}
