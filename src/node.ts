/**
 * socketchart for Node: the same `createConnection`, with the `ws` package as the default transport (handshake
 * headers, TLS options, RFC 6455 ping/pong).
 */
import { connectionFactory } from './connection.js';
import { connectionLogicFactory } from './logic.js';
import { poolFactory } from './pool.js';
import { nodeTransport } from './transports/node.js';

// Both factory calls only build a closure: /* @__PURE__ */ lets bundlers drop whichever one an app does not import.
export const createConnection = /* @__PURE__ */ connectionFactory(() => nodeTransport);
export const createPool = /* @__PURE__ */ poolFactory(() => nodeTransport);
export const connectionLogic = /* @__PURE__ */ connectionLogicFactory(createConnection);

export { createNodeTransport, nodeTransport, type NodeTransportOptions } from './transports/node.js';
export { serveInspector, type InspectorOptions, type InspectorServer } from './inspector/index.js';
// The same API as the browser entry; createConnection, createPool and connectionLogic above take precedence over its exports.
export * from './index.js';
