/** socketchart/testing: tools for testing apps that use socketchart (Node only). */
export { createTestServer, type TestServer, type TestServerOptions } from './testServer.js';
