/**
 * socketchart for Node: the same `createConnection`, with the `ws` package as the default transport (handshake
 * headers, TLS options, RFC 6455 ping/pong).
 */
import { connectionFactory } from './connection.js';
import { nodeTransport } from './transports/node.js';

export const createConnection = connectionFactory(() => nodeTransport);

export { createNodeTransport, nodeTransport, type NodeTransportOptions } from './transports/node.js';
export * from './index.js';
