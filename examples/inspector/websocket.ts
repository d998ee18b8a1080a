/**
 * The chart in the Stately inspector, from Node: `createWebSocketInspector` sends every inspection event over a
 * WebSocket; `createInspectorServer` (from `@statelyai/inspect/server`) is the local relay on port 8080 that serves
 * a page embedding the Stately inspector UI and forwards the events to it.
 *
 *   npx tsx examples/inspector/websocket.ts [ws://your-server]   # then open http://localhost:8080
 *
 * Without an argument it starts a local echo server and drops the connection every few seconds, so there is
 * something to watch. Ctrl-C stops everything.
 *
 * `@statelyai/inspect` is the maintained successor of `@xstate/inspect` (0.8, which supports XState v4 only).
 * For a view that works offline, with nothing from the network: `socketchart inspect <url>`.
 */
import { fileURLToPath } from 'node:url';
import { createWebSocketInspector } from '@statelyai/inspect';
import { createInspectorServer } from '@statelyai/inspect/server';
import { createConnection } from '../../src/node.js'; // in your app: from 'socketchart/node'
import { createTestServer } from '../../src/testing/index.js'; // in your app: from 'socketchart/testing', or any ws server

export interface RunOptions {
  /** The server to watch; without one, a local echo server that drops the connection every `dropEvery` ms. */
  url?: string;
  /** The relay's port (it listens on every interface; port 0 can't work: the relay never says which it got). */
  relayPort?: number;
  /** Open the relay's page in the browser. */
  openBrowser?: boolean;
  /** Interval of the echo server's drops; 0: never. */
  dropEvery?: number;
  log?: (line: string) => void;
}

export async function run(options: RunOptions = {}) {
  const { relayPort = 8080, openBrowser = false, dropEvery = 5_000, log = console.log } = options;
  const relay = createInspectorServer({ port: relayPort, autoOpen: openBrowser });
  const inspector = createWebSocketInspector({ url: `ws://localhost:${relayPort}` });

  const echo = options.url === undefined ? await createTestServer() : null;
  const conn = createConnection(options.url ?? echo?.url() ?? '', {
    inspect: inspector.inspect,
    backoff: { initialDelay: 500 },
  });
  log(`inspector: http://localhost:${relayPort}   watching: ${conn.url}`);

  const chaos = echo && dropEvery > 0 ? setInterval(() => echo.dropAll(), dropEvery) : undefined;

  async function stop(): Promise<void> {
    clearInterval(chaos);
    const closed = conn.closed();
    conn.close(1000, 'example stopped');
    await closed;
    // The adapter forwards events on the next macrotask: let the `closed` snapshot go out before stopping it.
    await new Promise((resolve) => setTimeout(resolve, 0));
    // The adapter retries a lost relay every 5 s until stopped: stop it, or the process stays up.
    inspector.stop();
    relay.stop();
    await echo?.close();
  }

  return { relay, inspector, conn, echo, stop };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const example = await run({
    url: process.argv[2],
    relayPort: Number(process.env.INSPECTOR_PORT ?? 8080),
    openBrowser: process.env.OPEN_BROWSER === '1',
  });
  process.once('SIGINT', () => void example.stop());
}
