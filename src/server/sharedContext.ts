import type { IncomingMessage } from 'node:http';
import type { SharedSession } from './session.js';
import type { SharedSessionStore } from './store.js';
import type { AckPayload, AckSession, SessionServer, UndeliveredReason } from './types.js';

/** What a shared-store session needs from the server that holds it. */
export interface SharedContext extends SessionServer {
  readonly store: SharedSessionStore;
  readonly limits: {
    sessionTtl: number;
    maxUnacked: number;
    maxUnackedBytes: number;
    ackEvery: number;
    ackDelay: number;
    maxSocketBuffer: number;
    maxBacklogBytes: number;
    maxEffectFailures: number;
  };
  onSession(session: AckSession, info: { resumed: boolean; request: IncomingMessage }): void;
  onExpire(session: AckSession, undelivered: AckPayload[]): void;
  undelivered(session: AckSession, payloads: AckPayload[], reason: UndeliveredReason): void;
  /** A client message recorded without its effects after `maxEffectFailures` failures (`onDeadLetter`). */
  deadLetter(session: AckSession, payload: AckPayload, message: { key: string; seq: number }, error: Error): void;
  /** The session is over on this node (expired, ended, lost): drop it from the node's map. */
  forget(session: SharedSession): void;
}
