/**
 * The leader's connection events, each as the local event its own tab hears and as the plain data the channel
 * carries to the followers (structured clone: errors and close reasons flattened, see protocol.ts).
 */
import type { Connection } from '../connection.js';
import {
  DrainEvent,
  DropEvent,
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
import type { TabInside } from './inside.js';
import { type WireClosedReason, type WireEvent, toWireClosedReason, toWireError, toWireProblem } from './protocol.js';

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
    sink.event({ type: 'invalid-message', data: e.data, problem: toWireProblem(e.problem) }, new InvalidMessageEvent(e.data, e.problem, e.timeStamp)),
  );
  on('message', (e) => sink.message(e as SocketMessageEvent));
  on('drop', (e) => sink.drop(e as DropEvent));
}

/**
 * A tab's own connection, as its tab shows it (while it leads, and after it resigned) and, while it leads, as the
 * followers see it: every statechange, event and message relayed; a drop reported to the tab that sent the message.
 */
export function mirror(tab: TabInside, conn: Connection<unknown, unknown>): void {
  const from = tab.id;
  watchConnection(conn, {
    statechange: (e) => {
      if (!tab.own()) return;
      tab.moveTo(e.to, e.event);
      if (!tab.leading) return;
      tab.broadcast({ t: 'state', from, epoch: tab.epoch, event: e.event.type, snap: tab.leaderSnapshot() });
      if (e.to === 'open' || e.to === 'closed') tab.relay.flush();
      tab.relay.checkSettled();
    },
    event: (wire, local) => {
      if (!tab.own()) return;
      if (wire.type === 'open') tab.events.runEveryOpen();
      tab.dispatch(local);
      if (tab.leading) tab.broadcast({ t: 'event', from, epoch: tab.epoch, event: wire });
    },
    message: (e) => {
      if (!tab.own()) return;
      tab.events.deliver(e.data, e.origin, e.timeStamp);
      if (!tab.leading) return;
      tab.relay.checkSettled();
      const seq = tab.session?.inSeq;
      tab.broadcast({ t: 'message', from, epoch: tab.epoch, data: e.data, origin: e.origin, ...(seq === undefined ? {} : { seq }) });
    },
    drop: (e) => {
      // Also while (and after) this tab stops leading: the tab that sent a message hears of its drop.
      const origin = tab.relay.originOf(e.message);
      if (origin === undefined || origin.tab === tab.id) return tab.dispatch(new DropEvent(e.data, e.reason, e.timeStamp, e.message));
      // Its session goes on in the next leader, which sends it again: not dropped.
      if (tab.handingOver && e.reason === 'closed') return;
      const seq = origin.seq > 0 ? { seq: origin.seq } : {};
      tab.broadcast({ t: 'drop', from, epoch: tab.epoch, to: origin.tab, reason: e.reason, data: e.data, message: e.message, ...seq });
      tab.relay.checkSettled();
    },
  });
}
