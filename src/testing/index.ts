/** socketchart/testing: tools for testing apps that use socketchart (Node only). */
export { createTestServer, type TestServer, type TestServerOptions } from './testServer.js';
export { createTcpRelay, type TcpRelay } from './relay.js';
export { createMemoryTransport, MemoryPeer, type MemoryTransport, type MemoryTransportOptions } from '../transports/memory.js';
export {
  PathReplayError,
  replayPath,
  type ReplayConnectionOptions,
  type ReplayOptions,
} from './replay.js';
export { replayPathOnLoopback, type LoopbackReplayOptions, type LoopbackReplayResult } from './replayLoopback.js';
export type { ReplyAnswer, ReplyMatch, ReplyOptions } from './testServer.js';
export {
  CLOSE_CLASSES,
  PATH_VARIANTS,
  USER_CLOSE,
  chartStates,
  chartTransitions,
  connectionPaths,
  stateIdsOf,
  transitionKeys,
  type ChartTransition,
  type ConnectionPath,
  type ConnectionPathStep,
  type ConnectionPathsOptions,
  type PathEvent,
  type PathVariant,
  type PathVariantName,
} from './paths.js';
