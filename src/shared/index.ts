/**
 * `createSharedConnection`: one socket for every tab (see sharedConnection.ts). Browser only: it needs Web Locks and
 * BroadcastChannel, and without them behaves as `createConnection` (`conn.shared === false`).
 */
import { connectionFactory, missingTransport } from '../connection.js';
import { createBrowserTransport, hasGlobalWebSocket } from '../transports/browser.js';
import type { Connection } from '../connection.js';
import type { SendData } from '../data.js';
import type { ConnectionOptions, PerAttempt } from '../options.js';
import type { SharedConnectionOptions } from './options.js';
import { SharedConnection } from './sharedConnection.js';

let browserTransport: ReturnType<typeof createBrowserTransport> | undefined;

// The same connection createConnection from 'socketchart' builds (this module cannot import index.ts, which
// re-exports it).
const createBrowserConnection = /* @__PURE__ */ connectionFactory(() => {
  if (!hasGlobalWebSocket()) missingTransport();
  browserTransport ??= createBrowserTransport();
  return browserTransport;
});

type MakeConnection = <I, O>(url: PerAttempt<string | URL>, options: ConnectionOptions<I, O>) => Connection<I, O>;

/**
 * `createSharedConnection` over the connections `makeConnection` opens (the browser's WebSocket from 'socketchart',
 * `ws` from 'socketchart/node', where the lack of Web Locks makes it a tab of its own: `shared === false`).
 */
export function sharedConnectionFactory(makeConnection: MakeConnection) {
  /** Opens one connection shared by every tab of this origin that uses the same `name` (default: the URL). */
  return function createSharedConnection<In = unknown, Out = SendData>(
    url: PerAttempt<string | URL>,
    options: SharedConnectionOptions<In, Out> = {},
  ): SharedConnection<In, Out> {
    return new SharedConnection<In, Out>(url, options, makeConnection);
  };
}

export const createSharedConnection = /* @__PURE__ */ sharedConnectionFactory(createBrowserConnection as MakeConnection);
export { SharedConnection } from './sharedConnection.js';
export type { SharedConnectionOptions } from './options.js';
export { canShare } from './protocol.js';
export { leaderMachine, type LeaderContext, type LeaderEmitted, type LeaderEvent, type LeaderMachine } from './leaderMachine.js';
export { SHARED_PROTOCOL_VERSION } from './protocol.js';
