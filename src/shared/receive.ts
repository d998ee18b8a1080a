/**
 * What a tab does with each message of the shared channel (protocol.ts): the part that any tab handles (hellos,
 * announcements, sends and requests addressed to it as leader, drops, session facts, numbered messages), then what
 * only the leader this tab follows may tell it.
 */
import { DropEvent } from '../events.js';
import type { TabInside } from './inside.js';
import type { WireMessage } from './protocol.js';

const now = (): number => Date.now();
/** The statechange event of a tab catching up with the leader's snapshot. */
export const SYNC = 'SHARED.SYNC';

export function receive(tab: TabInside, msg: WireMessage): void {
  if (tab.ended || typeof msg !== 'object' || msg === null) return;
  switch (msg.t) {
    case 'hello':
      if (tab.leading) tab.announce(msg.from);
      return;
    case 'leader':
      if (msg.to !== undefined && msg.to !== tab.id) return;
      // Before following it: sends of this tab the session holds leave the backlog, so they are not sent again.
      if (msg.session && tab.session && !tab.leading && msg.epoch >= tab.epoch) tab.session.announced(msg.session, msg.from);
      tab.actor.send({ type: 'LEADER.ANNOUNCED', leader: msg.from, epoch: msg.epoch });
      if (!tab.leading && tab.leader === msg.from && tab.epoch === msg.epoch) tab.sync(msg.snap, SYNC);
      return;
    case 'bye':
      tab.left(msg.from, msg.reports === true);
      return;
    case 'gather':
      // A tab took the lock: it resumes the session with what every tab has of it.
      if (!tab.leading && msg.from !== tab.id) {
        const session = tab.session?.wire();
        if (session) tab.post({ t: 'copy', from: tab.id, to: msg.from, session });
      }
      return;
    case 'copy':
      if (msg.to === tab.id) tab.copied(msg.session);
      return;
    case 'settled':
      if (msg.to === tab.id) tab.unsettled.settle(msg.from, msg.seq);
      return;
    case 'send':
      if (msg.to === tab.id && tab.leading) tab.relay.send(msg.from, msg.seq, msg.message);
      return;
    case 'request':
      if (msg.to === tab.id && tab.leading) tab.relay.request(msg.from, msg.rid, msg.message, msg.timeout);
      return;
    case 'cancel':
      if (msg.to === tab.id) tab.relay.cancel(msg.from, msg.rid);
      return;
    case 'command':
      if (msg.to !== tab.id || !tab.leading) return;
      if (msg.command === 'open') tab.conn.open();
      else tab.conn.reconnect();
      return;
    case 'drop':
      // From whichever tab dropped it: a leader that just stopped leading reports what its connection let go.
      if (msg.to !== tab.id) return;
      if (msg.seq !== undefined) {
        // This tab reported it already, when that leader went away without a word (its report came after all).
        if (!tab.unsettled.dropped(msg.from, msg.seq)) return;
        tab.backlog.reported(msg.seq);
      }
      tab.dispatch(new DropEvent(msg.data, msg.reason, now(), msg.message));
      return;
    case 'log':
      // A late one from a leader before the one this tab follows now: that leader's announced session replaced this
      // copy, and may number its own messages under seqs in it (the server never processed them, or it moved them).
      if (msg.epoch < tab.epoch && tab.leader !== null && tab.leader !== msg.from) return;
    // falls through
    case 'acked':
    case 'renumbered':
      // Facts about the session, even late ones from a leader that just left.
      if (!tab.leading) tab.session?.apply(msg);
      return;
    case 'message':
      // Numbered: delivered once per tab, whichever leader relayed it (a new leader may get it again from the server).
      if (msg.seq === undefined || tab.session === null) break;
      if (!tab.leading && tab.session.accept(msg.seq, msg.from)) tab.events.deliver(msg.data, msg.origin, now());
      return;
  }
  // Everything below comes from the leader this tab follows.
  if (tab.leading || msg.from !== tab.leader || msg.epoch !== tab.epoch) return;
  switch (msg.t) {
    case 'state':
      tab.sync(msg.snap, msg.event);
      return;
    case 'event':
      tab.events.replay(msg.event, now());
      return;
    case 'message':
      tab.events.deliver(msg.data, msg.origin, now());
      return;
    case 'ack':
      // Plain mode: written, and kept until the leader says it is confirmed (or it goes away without saying).
      if (msg.to === tab.id) tab.unsettled.add(msg.from, tab.backlog.ack(msg.seq));
      return;
    case 'session':
      tab.session?.apply(msg);
      return;
    case 'reply':
      if (msg.to === tab.id) tab.asked.settle(msg.rid, msg);
      return;
  }
}
