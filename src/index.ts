/**
 * socketchart: a WebSocket whose whole lifecycle is an explicit XState v5 statechart.
 * This entry is browser-safe (no Node built-ins); `socketchart/node` adds the `ws` transport.
 */
import { connectionFactory, missingTransport } from './connection.js';
import { connectionLogicFactory } from './logic.js';
import { poolFactory } from './pool.js';
import { createBrowserTransport, hasGlobalWebSocket } from './transports/browser.js';

let browserTransport: ReturnType<typeof createBrowserTransport> | undefined;

/** `globalThis.WebSocket` (browsers, Deno, Bun, Node >= 22), made once: what connections use unless `options.transport` says otherwise. */
function defaultTransport() {
  if (!hasGlobalWebSocket()) missingTransport();
  browserTransport ??= createBrowserTransport();
  return browserTransport;
}

// Both factory calls only build a closure: /* @__PURE__ */ lets bundlers drop whichever one an app does not import.
/** Opens a connection over `globalThis.WebSocket` (browsers, Deno, Bun, Node >= 22) unless `options.transport` says otherwise. */
export const createConnection = /* @__PURE__ */ connectionFactory(defaultTransport);

export const createPool = /* @__PURE__ */ poolFactory(defaultTransport);
export const connectionLogic = /* @__PURE__ */ connectionLogicFactory(createConnection);
export { connectionOf, type ConnectionLogic, type ConnectionLogicCommand, type ConnectionLogicEvent, type ConnectionLogicInput } from './logic.js';
export { ConnectionPool, PoolStateEvent, type PoolOptions, type PoolState } from './pool.js';
export { Connection, type MessageOf, type MessageType, type OpenedOptions, type Subscription } from './connection.js';
export { jsonCodec, rawCodec, type Codec } from './messages/codec.js';
export { Reassembler, splitMessage, type ChunkingOptions } from './messages/chunking.js';
export type { BatchingOptions } from './messages/batching.js';
export type { RequestOptions } from './messages/requests.js';
export type { RequestsOptions } from './messages/requestsOptions.js';
export type {
  BatchingPlugin,
  ChunkingPlugin,
  Plugin,
  PluginHost,
  RequestsPlugin,
  RouterPlugin,
  SchemaPlugin,
} from './plugins/types.js';
export type { StandardResult, StandardSchemaV1 } from './messages/schema.js';
export type { ConnectionMetrics, MetricsPlugin } from './metrics.js';
export {
  connectionMachine,
  type ClosedKind,
  type ClosedReason,
  type ConnectionContext,
  type ConnectionEmitted,
  type ConnectionEvent,
  type ConnectionHost,
  type ConnectionMachine,
  type ConnectionPolicy,
} from '../machines/connection.js';
export { SocketchartError, isSocketchartError, type SocketchartErrorCode } from './errors.js';
export * from './events.js';
export {
  DEFAULTS,
  type AuthOptions,
  type ConnectionClock,
  type ConnectionOptions,
  type HeartbeatOptions,
  type PerAttempt,
} from './options.js';
export { backoffDelay, type BackoffOptions } from './policies/backoff.js';
export {
  DEFAULT_CLOSE_ACTIONS,
  classifyClose,
  type CloseAction,
  type CloseClassifier,
  type CloseCodesOption,
} from './policies/closeCodes.js';
export {
  browserEnvironment,
  createManualEnvironment,
  staticEnvironment,
  type EnvironmentListener,
  type EnvironmentSource,
} from './policies/environment.js';
export type { DropReason, OverflowPolicy, QueueOptions } from './policies/queue.js';
export type { SendData } from './data.js';
export { createBrowserTransport } from './transports/browser.js';
export type { BinaryType, CloseInfo, OpenRequest, SocketSink, Transport, TransportSocket } from './transports/types.js';
export {
  CONNECTION_STATE_PATHS,
  pathMatches,
  readyStateOf,
  statePathOf,
  type ConnectionSnapshot,
  type ConnectionStateName,
  type ConnectionStatePath,
  type StateNameArgument,
} from './statePath.js';
export { logTransitions, type TransitionLogOptions } from './logTransitions.js';
export { createSharedConnection, SharedConnection, canShare, leaderMachine, type SharedConnectionOptions, type LeaderMachine } from './shared/index.js';
