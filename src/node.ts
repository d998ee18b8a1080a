/**
 * socketchart for Node: the same `createConnection`, with the `ws` package as the default transport (handshake
 * headers, TLS options, RFC 6455 ping/pong).
 */
import { connectionFactory } from './connection.js';
import { connectionLogicFactory } from './logic.js';
import { poolFactory } from './pool.js';
import { sharedConnectionFactory } from './shared/index.js';
import { nodeTransport } from './transports/node.js';

// Both factory calls only build a closure: /* @__PURE__ */ lets bundlers drop whichever one an app does not import.
export const createConnection = /* @__PURE__ */ connectionFactory(() => nodeTransport);
export const createPool = /* @__PURE__ */ poolFactory(() => nodeTransport);
export const connectionLogic = /* @__PURE__ */ connectionLogicFactory(createConnection);
// Node has no Web Locks: a shared connection here is a tab of its own (`shared === false`), over `ws` like the rest.
export const createSharedConnection = /* @__PURE__ */ sharedConnectionFactory(createConnection as Parameters<typeof sharedConnectionFactory>[0]);

export { createNodeTransport, nodeTransport, type NodeTransportOptions } from './transports/node.js';
export { serveInspector, type InspectorOptions, type InspectorServer } from './inspector/index.js';
// The same API as the browser entry; the factories' products above take precedence over its exports.
export * from './index.js';
