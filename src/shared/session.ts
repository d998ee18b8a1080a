/**
 * The acknowledged-delivery session (`delivery: atLeastOnce()`) of a shared connection, kept by every tab so that
 * any of them can resume it on the server when it becomes leader.
 *
 * The leader's delivery layer reports each change (`SessionObserver`); the leader publishes it on the channel and
 * every follower applies it to its copy:
 * - `log`: outbound messages the layer numbered, each with the tab that sent it and its number in that tab. The
 *   layer writes nothing before the log that holds it was posted (write-ahead), so every message the server can
 *   have received is in the log. For a follower, the log entry of its own send is the leader's acknowledgement:
 *   it forgets the send then, and the session copy holds it instead.
 * - `acked`: the server acknowledged everything up to a seq; those leave every copy.
 * - `renumbered`: a new leader's welcome showed that the server processed seqs no tab heard of (the old leader's
 *   last log died with its page): the messages this leader numbered under them move up, before any is written.
 * - `session`: the session ended (a new id, nothing held), or the server started a new one (inbound numbering
 *   starts over).
 * Inbound messages cross the channel with their seq, and every tab drops one it already delivered, so a message a
 * new leader gets again from the server (delivered by the old leader but not yet acknowledged) is not repeated.
 *
 * A tab that takes the lead resumes the session with its own copy: the same id, the last seq it delivered itself,
 * and the held messages under their old seqs, so the server drops those it already processed.
 */
import type { DeliveryLayer, HeldMessage, SessionObserver, SessionSnapshot } from '../delivery/types.js';
import type { WireMessage } from './protocol.js';

/** A held message as the tabs keep it: also which tab sent it, and its number in that tab's sends. */
export interface LoggedMessage extends HeldMessage {
  from: string;
  tabSeq: number;
}

/** The session as a tab that joins (or a new leader's followers) receive it. */
export interface WireSession {
  sid: string;
  next: number;
  lastIn: number;
  held: LoggedMessage[];
  /** Per tab, the highest of its sends numbered in this session (a resend of one of those is not numbered again). */
  tabs: Array<[string, number]>;
}

export interface SessionHost {
  /** This tab. */
  readonly tab: string;
  /** Post as the leader (the host adds `from` and `epoch`). */
  publish(msg: LeaderPost): void;
  /** The follower send being handed to the connection right now (null: this tab's own). */
  relaying(): { from: string; seq: number } | null;
  /** This tab's sends up to `tabSeq` are in the session: the backlog may forget them. */
  logged(tabSeq: number): void;
}

type Omitted = 'from' | 'epoch';
export type LeaderPost =
  | Omit<Extract<WireMessage, { t: 'log' }>, Omitted>
  | Omit<Extract<WireMessage, { t: 'acked' }>, Omitted>
  | Omit<Extract<WireMessage, { t: 'renumbered' }>, Omitted>
  | Omit<Extract<WireMessage, { t: 'session' }>, Omitted>;

export class SharedSession implements SessionObserver {
  readonly #host: SessionHost;
  /** Null until this tab learns of a session (from the leader, or its own layer when it leads). */
  sid: string | null = null;
  next = 1;
  /** The highest inbound seq this tab delivered, and the leader tab whose message it was. */
  lastIn = 0;
  #lastInBy: string | null = null;
  /** Outbound messages the server has not acknowledged, by seq, in seq order. */
  readonly #held = new Map<number, LoggedMessage>();
  readonly #tabs = new Map<string, number>();
  /** The highest seq the server acknowledged, as far as this tab knows. */
  #acked = 0;
  /** Leader: numbered but not yet posted. */
  #unposted: LoggedMessage[] = [];
  /** Leader: the seq of the inbound frame being delivered now (its messages follow synchronously). */
  #inSeq: number | null = null;
  /** Leader: publishing. Off once it hands the session over (its connection's ending is not the session's). */
  #publishing = false;

  constructor(host: SessionHost) {
    this.#host = host;
  }

  // ---- leader -------------------------------------------------------------------------------------------------

  /** This tab leads: resume the session it knows (if any) in `layer`, else publish the layer's new one. */
  lead(layer: DeliveryLayer): void {
    if (this.sid !== null && layer.adopt) layer.adopt(this.#snapshot());
    else this.#replace({ ...(layer.snapshot?.() ?? { sid: '', next: 1, lastIn: 0, held: [] }), held: [], tabs: [] });
    this.#publishing = true;
  }

  /** The session as it stands, for an announcement. */
  wire(): WireSession | undefined {
    if (this.sid === null) return undefined;
    return { sid: this.sid, next: this.next, lastIn: this.lastIn, held: [...this.#held.values()], tabs: [...this.#tabs] };
  }

  get messages(): IterableIterator<LoggedMessage> {
    return this.#held.values();
  }

  get tabs(): ReadonlyMap<string, number> {
    return this.#tabs;
  }

  /** The seq to send with an inbound message the leader relays now (undefined: an unsequenced one). */
  get inSeq(): number | undefined {
    return this.#inSeq ?? undefined;
  }

  /** The tab stops leading: what its connection does from now on (it ends) is not the session's. */
  handOver(): void {
    this.flush();
    this.#publishing = false;
  }

  held(message: HeldMessage): void {
    const origin = this.#host.relaying();
    const entry: LoggedMessage = { ...message, from: origin?.from ?? this.#host.tab, tabSeq: origin?.seq ?? 0 };
    this.#log(entry);
    if (this.#publishing) this.#unposted.push(entry);
  }

  flush(): void {
    if (this.#unposted.length === 0 || !this.#publishing || this.sid === null) return;
    const entries = this.#unposted;
    this.#unposted = [];
    try {
      this.#host.publish({ t: 'log', sid: this.sid, entries });
    } catch {
      // A message structured clone cannot copy (the leader's own send; followers' were copied to get here): the
      // tabs keep its frame, which is what goes on the wire, and report that as the message if it is dropped.
      this.#host.publish({ t: 'log', sid: this.sid, entries: entries.map(({ message: _, ...frameOnly }) => frameOnly) });
    }
  }

  acked(ack: number): void {
    this.#trim(ack);
    if (this.#publishing && this.sid !== null) this.#host.publish({ t: 'acked', sid: this.sid, ack });
  }

  delivered(seq: number): void {
    if (this.#inSeq === null) queueMicrotask(() => (this.#inSeq = null));
    this.#inSeq = seq;
    this.lastIn = seq;
    this.#lastInBy = this.#host.tab;
  }

  renumbered(from: number, by: number): void {
    // What the tabs have not heard yet goes under the old numbers first: the move applies to it too.
    this.flush();
    this.#renumber(from, by);
    if (this.#publishing && this.sid !== null) this.#host.publish({ t: 'renumbered', sid: this.sid, first: from, by });
  }

  restarted(session: Omit<SessionSnapshot, 'held'>): void {
    if (!this.#publishing) return;
    if (session.sid !== this.sid) this.#unposted = [];
    this.#restart(session, this.#host.tab);
    this.#host.publish({ t: 'session', ...session });
  }

  // ---- follower -----------------------------------------------------------------------------------------------

  /** A leader's announcement: its session replaces this tab's copy (this tab's own inbound mark stays if it is the same session). */
  announced(session: WireSession, leader: string): void {
    const same = session.sid === this.sid;
    const lastIn = this.lastIn;
    const by = this.#lastInBy;
    this.#replace(session);
    if (same) {
      this.lastIn = lastIn;
      this.#lastInBy = by;
    } else this.#lastInBy = leader;
    const mine = this.#tabs.get(this.#host.tab);
    if (mine !== undefined) this.#host.logged(mine);
  }

  /** `log`, `acked`, `renumbered` or `session` from a leader (an old leader's late ones are facts about the same session too). */
  apply(msg: Extract<WireMessage, { t: 'log' | 'acked' | 'renumbered' | 'session' }>): void {
    if (msg.t === 'session') return this.#restart(msg, msg.from);
    if (msg.sid !== this.sid) return;
    if (msg.t === 'acked') return this.#trim(msg.ack);
    if (msg.t === 'renumbered') return this.#renumber(msg.first, msg.by);
    let mine = -1;
    for (const entry of msg.entries) {
      this.#log(entry);
      if (entry.from === this.#host.tab) mine = entry.tabSeq;
    }
    if (mine >= 0) this.#host.logged(mine);
  }

  /**
   * Whether to deliver an inbound message the leader `from` relayed with `seq`: one this tab has not delivered
   * yet. A frame that holds several messages (batching) gives them all one seq, so more with the seq last
   * delivered are taken from the leader that delivered it, and from no other.
   */
  accept(seq: number, from: string): boolean {
    if (seq < this.lastIn || (seq === this.lastIn && from !== this.#lastInBy)) return false;
    this.lastIn = seq;
    this.#lastInBy = from;
    return true;
  }

  /**
   * Another tab's copy, gathered by this tab before it resumes the session: what it holds that this copy lacks (an
   * old leader's post that reached that tab and not yet this one) is taken, under its seq, and numbering goes on
   * after the highest either saw. This tab's inbound mark stays its own.
   */
  merge(copy: WireSession): void {
    if (copy.sid !== this.sid) return;
    let added = false;
    for (const entry of copy.held) {
      if (entry.seq <= this.#acked || this.#held.has(entry.seq)) continue;
      this.#held.set(entry.seq, entry);
      added = true;
    }
    if (added) {
      // Kept in seq order: #trim walks it from the lowest.
      const sorted = [...this.#held.values()].sort((a, b) => a.seq - b.seq);
      this.#held.clear();
      for (const entry of sorted) this.#held.set(entry.seq, entry);
    }
    for (const entry of this.#held.values()) if (entry.seq >= this.next) this.next = entry.seq + 1;
    if (copy.next > this.next) this.next = copy.next;
    for (const [tab, seq] of copy.tabs) if (seq > (this.#tabs.get(tab) ?? 0)) this.#tabs.set(tab, seq);
    // This tab's own sends the session holds leave its backlog (its log entries had not reached it yet).
    const mine = this.#tabs.get(this.#host.tab);
    if (mine !== undefined) this.#host.logged(mine);
  }

  /** This tab's messages the server has not acknowledged (reported when its handle closes). */
  ownHeld(): LoggedMessage[] {
    return [...this.#held.values()].filter((entry) => entry.from === this.#host.tab);
  }

  // ---- both ---------------------------------------------------------------------------------------------------

  #log(entry: LoggedMessage): void {
    if (entry.seq < this.next && !this.#held.has(entry.seq)) return; // acknowledged already, or a repeat
    this.#held.set(entry.seq, entry);
    if (entry.seq >= this.next) this.next = entry.seq + 1;
    // tabSeq 0: the leader's own send, which no backlog holds.
    if (entry.tabSeq > (this.#tabs.get(entry.from) ?? 0)) this.#tabs.set(entry.from, entry.tabSeq);
  }

  #renumber(from: number, by: number): void {
    const moved = [...this.#held.values()].map((entry) => (entry.seq >= from ? { ...entry, seq: entry.seq + by } : entry));
    this.#held.clear();
    for (const entry of moved) this.#held.set(entry.seq, entry);
    if (this.next >= from) this.next += by;
  }

  #trim(ack: number): void {
    if (ack > this.#acked) this.#acked = ack;
    for (const seq of this.#held.keys()) {
      if (seq > ack) break;
      this.#held.delete(seq);
    }
  }

  #restart(session: Omit<SessionSnapshot, 'held'>, by: string): void {
    if (session.sid !== this.sid) {
      this.#held.clear();
      this.#tabs.clear();
      this.#acked = 0;
      this.sid = session.sid;
      this.next = session.next;
    }
    this.lastIn = session.lastIn;
    this.#lastInBy = by;
  }

  #replace(session: WireSession): void {
    if (session.sid !== this.sid) this.#acked = 0;
    this.sid = session.sid;
    this.next = session.next;
    this.lastIn = session.lastIn;
    this.#held.clear();
    for (const entry of session.held) this.#held.set(entry.seq, entry);
    this.#tabs.clear();
    for (const [tab, seq] of session.tabs) this.#tabs.set(tab, seq);
  }

  /** What the delivery layer takes over: the held messages without their tabs. */
  #snapshot(): SessionSnapshot {
    const held: HeldMessage[] = [];
    for (const { from: _from, tabSeq: _tabSeq, ...message } of this.#held.values()) held.push(message);
    return { sid: this.sid as string, next: this.next, lastIn: this.lastIn, held };
  }
}
