/**
 * The leader's connection events, each as the local event its own tab hears and as the plain data the channel
 * carries to the followers (structured clone: errors and close reasons flattened, see protocol.ts).
 */
import type { Connection } from '../connection.js';
import {
  DrainEvent,
  type DropEvent,
  GiveupEvent,
  InvalidMessageEvent,
  OpenEvent,
  ReconnectingEvent,
  SocketCloseEvent,
  SocketErrorEvent,
  type SocketMessageEvent,
  type SocketchartEvent,
  type StateChangeEvent,
} from '../events.js';
import { type WireClosedReason, type WireEvent, toWireClosedReason, toWireError } from './protocol.js';

export interface ConnectionSink {
  statechange(event: StateChangeEvent): void;
  /** Every other lifecycle event: `local` for this tab, `wire` for the others. */
  event(wire: WireEvent, local: SocketchartEvent): void;
  message(event: SocketMessageEvent): void;
  drop(event: DropEvent): void;
}

export function watchConnection<In, Out>(conn: Connection<In, Out>, sink: ConnectionSink): void {
  const on = conn.addEventListener.bind(conn);
  on('statechange', (e) => sink.statechange(e));
  on('open', (e) => sink.event({ type: 'open' }, new OpenEvent(e.timeStamp)));
  on('close', (e) =>
    sink.event(
      { type: 'close', code: e.code, reason: e.reason, wasClean: e.wasClean, closedBy: toWireClosedReason(e.closedBy) },
      new SocketCloseEvent(e, e.closedBy, e.timeStamp),
    ),
  );
  on('error', (e) => sink.event({ type: 'error', error: toWireError(e.error) }, new SocketErrorEvent(e.error, e.timeStamp)));
  on('reconnecting', (e) => sink.event({ type: 'reconnecting', attempt: e.attempt, delay: e.delay }, new ReconnectingEvent(e.attempt, e.delay, e.timeStamp)));
  on('giveup', (e) =>
    sink.event({ type: 'giveup', closedBy: toWireClosedReason(e.closedBy) as WireClosedReason }, new GiveupEvent(e.closedBy, e.timeStamp)),
  );
  on('drain', (e) => sink.event({ type: 'drain', bufferedAmount: e.bufferedAmount }, new DrainEvent(e.bufferedAmount, e.timeStamp)));
  on('invalid-message', (e) =>
    sink.event({ type: 'invalid-message', data: e.data, problem: e.problem }, new InvalidMessageEvent(e.data, e.problem, e.timeStamp)),
  );
  on('message', (e) => sink.message(e as SocketMessageEvent));
  on('drop', (e) => sink.drop(e as DropEvent));
}
