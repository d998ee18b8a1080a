/** What the tab's modules (receive.ts, mirror.ts) see of it. */
import type { Actor } from 'xstate';
import type { Connection } from '../connection.js';
import type { SocketchartEvent } from '../events.js';
import type { FollowerRequests } from './asked.js';
import type { Backlog } from './backlog.js';
import type { LeaderMachine } from './leaderMachine.js';
import type { LeaderSnapshot, WireMessage } from './protocol.js';
import type { LeaderRelay } from './relay.js';
import type { SharedSession, WireSession } from './session.js';
import type { Unsettled } from './unsettled.js';
import type { TabEvents } from './view.js';

/** A tab's parts as receive.ts and mirror.ts act on them: its shared connection's private state, lent to them. */
export interface TabInside {
  readonly id: string;
  readonly actor: Actor<LeaderMachine>;
  readonly conn: Connection<unknown, unknown>;
  readonly relay: LeaderRelay<unknown>;
  readonly backlog: Backlog;
  readonly asked: FollowerRequests;
  readonly events: TabEvents;
  readonly session: SharedSession | null;
  readonly ended: boolean;
  readonly leading: boolean;
  readonly leader: string | null;
  readonly epoch: number;
  /** This tab stopped leading and its session goes on in the next leader: its connection's `closed` drops are not final. */
  readonly handingOver: boolean;
  /** This tab took the lock and waits for the old leader's last posts before resuming (see GATHER_WAIT_MS). */
  readonly gathering: boolean;
  readonly unsettled: Unsettled;
  /** Tab `from` said bye. */
  left(from: string, reports: boolean): void;
  /** Another tab's copy of the session, answering this tab's `gather`. */
  copied(session: WireSession): void;
  /** Whether this tab's own connection is the one it shows: while it leads, and after it resigned. */
  own(): boolean;
  announce(to?: string): void;
  sync(snap: LeaderSnapshot, event: string): void;
  moveTo(to: string, event: { type: string }): void;
  leaderSnapshot(): LeaderSnapshot;
  broadcast(msg: WireMessage): void;
  post(msg: WireMessage): void;
  dispatch(event: SocketchartEvent): void;
}
