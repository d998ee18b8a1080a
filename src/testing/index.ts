/**
 * socketchart/testing: tools for testing apps that use socketchart (Node only): everything of
 * socketchart/testing/browser (paths, replayPath, the memory transport) plus the real-socket test server, the TCP
 * relay and the loopback replay.
 */
export * from './browser.js';
export { createTestServer, type TestServer, type TestServerOptions } from './testServer.js';
export { createTcpRelay, type TcpRelay } from './relay.js';
export { replayPathOnLoopback, type LoopbackReplayOptions, type LoopbackReplayResult } from './replayLoopback.js';
export type { ReplyAnswer, ReplyMatch, ReplyOptions } from './testServer.js';
