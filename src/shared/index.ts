/**
 * `createSharedConnection`: one socket for every tab (see sharedConnection.ts). Browser only: it needs Web Locks and
 * BroadcastChannel, and without them behaves as `createConnection` (`conn.shared === false`).
 */
import { connectionFactory, missingTransport } from '../connection.js';
import { createBrowserTransport, hasGlobalWebSocket } from '../transports/browser.js';
import { sharedConnectionFactory } from './sharedConnection.js';

let browserTransport: ReturnType<typeof createBrowserTransport> | undefined;

// The same connection createConnection from 'socketchart' builds (this module cannot import index.ts, which
// re-exports it).
const createBrowserConnection = /* @__PURE__ */ connectionFactory(() => {
  if (!hasGlobalWebSocket()) missingTransport();
  browserTransport ??= createBrowserTransport();
  return browserTransport;
});

/** Opens one connection shared by every tab of this origin that uses the same `name` (default: the URL). */
export const createSharedConnection = /* @__PURE__ */ sharedConnectionFactory(createBrowserConnection);
export { SharedConnection, canShare, type SharedConnectionOptions } from './sharedConnection.js';
export { leaderMachine, type LeaderContext, type LeaderEmitted, type LeaderEvent, type LeaderMachine } from './leaderMachine.js';
export { SHARED_PROTOCOL_VERSION } from './protocol.js';
