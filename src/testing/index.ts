/** socketchart/testing: tools for testing apps that use socketchart (Node only). */
export { createTestServer, type TestServer, type TestServerOptions } from './testServer.js';
export { createTcpRelay, type TcpRelay } from './relay.js';
export { createMemoryTransport, MemoryPeer, type MemoryTransport } from '../transports/memory.js';
