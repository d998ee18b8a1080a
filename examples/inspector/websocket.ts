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
import { createWebSocketInspector } from '@statelyai/inspect';
import { createInspectorServer } from '@statelyai/inspect/server';
import { createConnection } from '../../src/node.js'; // in your app: from 'socketchart/node'
import { createTestServer } from '../../src/testing/index.js';
import { withoutHost } from './sanitize.js';

const RELAY_PORT = Number(process.env.INSPECTOR_PORT ?? 8080);

const relay = createInspectorServer({ port: RELAY_PORT, autoOpen: process.env.OPEN_BROWSER === '1' });
const inspector = createWebSocketInspector({
  url: `ws://localhost:${RELAY_PORT}`,
  sanitizeContext: withoutHost,
});

const echo = process.argv[2] === undefined ? await createTestServer() : null;
const conn = createConnection(process.argv[2] ?? echo?.url() ?? '', {
  inspect: inspector.inspect,
  backoff: { initialDelay: 500 },
});
console.log(`inspector: http://localhost:${RELAY_PORT}   watching: ${conn.url}`);

const chaos = echo ? setInterval(() => echo.dropAll(), 5_000) : undefined;

process.once('SIGINT', async () => {
  clearInterval(chaos);
  conn.close(1000, 'example stopped');
  // The adapter retries a lost relay every 5 s until stopped: stop it, or the process stays up.
  inspector.stop();
  relay.stop();
  await echo?.close();
});
