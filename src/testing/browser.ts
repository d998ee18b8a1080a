/**
 * socketchart/testing for browsers: the generated paths and their replay on the memory transport, without the
 * Node-only test server and relay (`socketchart/testing` bundles `ws` and `node:http`). For tests that run in a
 * browser (Playwright, vitest browser mode).
 */
export { createMemoryTransport, MemoryPeer, type MemoryTransport, type MemoryTransportOptions } from '../transports/memory.js';
export {
  PathReplayError,
  replayPath,
  type ReplayConnectionOptions,
  type ReplayOptions,
} from './replay.js';
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
