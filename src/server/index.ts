/**
 * socketchart/server: the server side of acknowledged delivery (PROTOCOL.md) for `ws` servers. Node only.
 */
export {
  ACK_SERVER_DEFAULTS,
  MAX_UNFLUSHED_PONGS,
  attachAckServer,
  type AckPayload,
  type AckSendData,
  type AckServer,
  type AckServerOptions,
  type AckServerStats,
  type AckSession,
  type AckMessage,
  type UndeliveredReason,
} from './ackServer.js';
export {
  LEASE_RENEW_MS,
  createMemorySessionStore,
  type ClaimResult,
  type SessionRecord,
  type SessionStore,
  type SharedSessionStore,
  type StoreEffect,
  type StoreNotice,
  type UnackedMessage,
} from './store.js';
export { ACK_CLOSE_CODES, ACK_PROTOCOL } from '../delivery/protocol.js';
