/**
 * One WebSocket for every tab of an origin: the tab that holds the Web Lock (the leader) runs a real connection and
 * relays it over a `BroadcastChannel`; every other tab (a follower) shows the leader's chart and sends through it.
 * Who leads is the leader chart (leaderMachine.ts, `conn.actor`); the data plane (messages, sends, acks) bypasses
 * it, as the connection's own data plane bypasses the connection chart.
 *
 * Every tab builds its connection at once with `startClosed` (so bad options throw in every tab, as
 * `createConnection` throws them) and only the leader opens it.
 */
import { type Actor, createActor } from 'xstate';
import type { ClosedReason } from '../../machines/connection.js';
import type { Connection } from '../connection.js';
import type { SendData } from '../data.js';
import { SocketchartError, invalidOption } from '../errors.js';
import { DropEvent, ReconnectingEvent, SocketCloseEvent, type SocketchartEvent, StateChangeEvent } from '../events.js';
import { rawCodec } from '../messages/codec.js';
import type { RequestOptions } from '../messages/requests.js';
import type { ConnectionOptions, PerAttempt } from '../options.js';
import { resolveQueue } from '../policies/queue.js';
import { resolveUnconfirmed } from '../policies/unconfirmedOptions.js';
import { pathMatches, type StateNameArgument } from '../statePath.js';
import type { BinaryType } from '../transports/types.js';
import { type LeaderMachine, leaderMachine } from './leaderMachine.js';
import { Backlog } from './backlog.js';
import { Unsettled } from './unsettled.js';
import { LeaderRelay } from './relay.js';
import { TabHandle, assertNotClosed } from './handle.js';
import { type SharedConnectionOptions, lockNameOf, newTabId, notCloneable } from './options.js';
import { FollowerRequests } from './asked.js';
import { mirror } from './mirror.js';
import { SharedSession } from './session.js';
import { TabChannel } from './channel.js';
import { SYNC, receive } from './receive.js';
import type { TabInside } from './inside.js';
import { type DeliveryLayer, watchLayers } from '../delivery/types.js';
import {
  type LeaderSnapshot,
  SHARED_PROTOCOL_VERSION,
  type WireMessage,
  canShare,
  checkClose,
  fromWireClosedReason,
  readyStateOfPath,
  toWireClosedReason,
} from './protocol.js';

type Create<In, Out> = (url: PerAttempt<string | URL>, options: ConnectionOptions<In, Out>) => Connection<In, Out>;

const now = (): number => Date.now();

/**
 * How long a tab that took the lock waits, before resuming an acknowledged-delivery session, for the last posts of
 * the leader it followed when that leader left without a `bye` (a crashed page): the lock can pass before them.
 */
export const GATHER_WAIT_MS = 100;

export class SharedConnection<In = unknown, Out = SendData> extends TabHandle<In, Out> {
  /** False when this page cannot share (no Web Locks, no BroadcastChannel, or not a secure context): it has its own socket. */
  readonly shared: boolean;
  /** The leader chart of this tab: `electing`, `member.following`, `member.handover`, `member.leading`, `solo`, `closed`. */
  readonly actor: Actor<LeaderMachine>;

  readonly #tab: string;
  readonly #channel: TabChannel;
  /** This tab's own connection: open only while it leads. */
  readonly #conn: Connection<In, Out>;
  readonly #encode: (message: Out) => SendData;
  readonly #relay: LeaderRelay<Out>;
  readonly #backlog: Backlog;
  readonly #unsettled: Unsettled;

  #state: string;
  #snap: Omit<LeaderSnapshot, 'state'> = { url: '', protocol: '', extensions: '', closedBy: null };
  #leading = false;
  #leader: string | null = null;
  #epoch = 0;
  #ended = false;
  #closeArgs: [number | undefined, string | undefined] = [undefined, undefined];
  /** Set once this tab resigned: its connection's events are its own, no longer the shared session's. */
  #mirrorOnly = false;

  readonly #asked: FollowerRequests;
  /** The connection's delivery layer (`delivery` option), when there is one. */
  #layer: DeliveryLayer | null = null;
  /** The acknowledged-delivery session every tab keeps (session.ts); null without a shareable layer. */
  readonly #session: SharedSession | null = null;
  /** This tab stopped leading and its session goes on in the next leader: its connection's `closed` drops are not final. */
  #handingOver = false;
  /** The last tab that said `bye`. */
  #lastBye: string | null = null;
  /** This tab took the lock and waits for the last word of the leader it followed before resuming the session. */
  #gathering: { from: string; timer: ReturnType<typeof setTimeout> } | null = null;
  /** This tab took the lock before the old leader's bye came: its writes for this tab are orphaned only if none comes. */
  #awaitingBye: { from: string; timer: ReturnType<typeof setTimeout> } | null = null;

  /** @internal use `createSharedConnection` */
  constructor(url: PerAttempt<string | URL>, options: SharedConnectionOptions<In, Out>, create: Create<In, Out>) {
    if (typeof options !== 'object' || options === null) throw invalidOption('options', 'an object', options);
    // As on a connection, `on()` needs the router plug-in; it routes by the plug-in's field.
    super((options as { router?: { typeField?: string } | null }).router?.typeField ?? null);
    const { name, ...connectionOptions } = options;
    const lockName = lockNameOf(url, name);
    this.#conn = watchLayers(() => create(url, { ...connectionOptions, startClosed: true }), (layer) => (this.#layer = layer));
    const codec = (options.codec ?? rawCodec) as { encode(message: Out): SendData };
    this.#encode = (m) => codec.encode(m);
    this.#backlog = new Backlog(resolveQueue(options.queue), (entry, reason) => this.#dispatch(new DropEvent(entry.data, reason, now(), entry.message)));
    this.#unsettled = new Unsettled(options.delivery === undefined ? resolveUnconfirmed(options.unconfirmed) : null, (data, message) =>
      this.#dispatch(new DropEvent(data, 'unconfirmed', now(), message)),
    );
    this.#tab = newTabId();
    this.#asked = new FollowerRequests({
      ask: (rid, message, timeout) => {
        if (this.#leader === null) return;
        const base = { t: 'request' as const, from: this.#tab, to: this.#leader, rid, message };
        this.#post(timeout === undefined ? base : { ...base, timeout });
      },
      cancel: (rid) => {
        if (this.#leader !== null) this.#post({ t: 'cancel', from: this.#tab, to: this.#leader, rid });
      },
    });
    this.#relay = new LeaderRelay<Out>({
      conn: this.#conn as Connection<unknown, Out>,
      tab: this.#tab,
      epoch: () => this.#epoch,
      post: (msg) => this.#post(msg),
      encode: this.#encode,
      logged: () => this.#session !== null,
      numbered: (from, seq) => (this.#session?.tabs.get(from) ?? 0) >= seq,
      flushSession: () => this.#session?.flush(),
    });
    this.#state = options.startClosed ? 'idle' : 'connecting.opening';

    this.shared = canShare();
    const layer = this.#layer as DeliveryLayer | null;
    if (this.shared && layer?.share && layer.snapshot && layer.adopt) {
      this.#session = new SharedSession({
        tab: this.#tab,
        publish: (msg) => this.#post({ ...msg, from: this.#tab, epoch: this.#epoch } as WireMessage),
        relaying: () => this.#relay.sending,
        logged: (tabSeq) => this.#backlog.ack(tabSeq),
      });
      layer.share(this.#session);
    }
    const inside = this.#inside();
    this.#channel = new TabChannel(this.shared ? `${lockName}#v${SHARED_PROTOCOL_VERSION}` : null, (msg) => receive(inside, msg));

    this.actor = createActor(leaderMachine, {
      input: { name: lockName, tab: this.#tab, shareable: this.shared },
      ...(options.inspect ? { inspect: options.inspect as never } : {}),
    });
    mirror(inside, this.#conn as Connection<unknown, unknown>);
    this.actor.on('lead', (e) => this.#lead(e.epoch));
    this.actor.on('resign', () => this.#resign());
    this.actor.on('follow', (e) => this.#follow(e.leader, e.epoch));
    this.actor.on('lost', () => this.#showLost());
    this.actor.start();
    if (this.#channel.exists) {
      this.#post({ t: 'hello', from: this.#tab });
      // A leader whose page goes away says so, so followers show the handover at once instead of at the next leader.
      if (typeof addEventListener === 'function') {
        addEventListener('pagehide', (e) => {
          if ((e as PageTransitionEvent).persisted || !this.#leading) return;
          this.#session?.flush();
          this.#post({ t: 'bye', from: this.#tab, epoch: this.#epoch });
        });
      }
    }
  }

  /** `'leader'` while this tab holds the socket (always without sharing), `'follower'` otherwise. */
  get role(): 'leader' | 'follower' {
    return this.#leading ? 'leader' : 'follower';
  }

  get readyState(): 0 | 1 | 2 | 3 {
    return readyStateOfPath(this.#state);
  }

  /** The leader's chart state path, the same in every tab (`'open'`, `'reconnecting.backoff'`, ...). */
  get state(): string {
    return this.#state;
  }

  matches<P extends string>(path: StateNameArgument<P>): boolean {
    return pathMatches(this.#state, path);
  }

  get closedBy(): ClosedReason | null {
    return this.#own() ? this.#conn.closedBy : fromWireClosedReason(this.#snap.closedBy);
  }

  get url(): string {
    return this.#own() ? this.#conn.url : this.#snap.url;
  }

  get protocol(): string {
    return this.#own() ? this.#conn.protocol : this.#snap.protocol;
  }

  get extensions(): string {
    return this.#own() ? this.#conn.extensions : this.#snap.extensions;
  }

  /** Applies while this tab leads (messages reach followers as the leader received them). */
  get binaryType(): BinaryType {
    return this.#conn.binaryType;
  }

  set binaryType(type: BinaryType) {
    this.#conn.binaryType = type;
  }

  /** Leader: its socket and queue. Follower: the bytes of its sends the leader has not acknowledged yet. */
  get bufferedAmount(): number {
    return this.#leading ? this.#conn.bufferedAmount : this.#backlog.bytes;
  }

  /**
   * Leader: as `Connection.send`. Follower: encoded here (so a bad message throws here), kept until the leader
   * acknowledges it, and sent again to the next leader if this one goes away first.
   */
  send(message: Out): void {
    if (this.#leading || !this.shared) return this.#conn.send(message);
    const data = this.#encode(message);
    if (this.#ended) return this.#dispatch(new DropEvent(data, 'closed', now(), message));
    if (this.#leader === null) {
      // Nobody to post it to yet: check now that it can cross the channel later (postMessage checks otherwise).
      try {
        structuredClone(message);
      } catch (error) {
        throw notCloneable(error);
      }
    }
    const entry = this.#backlog.admit(message, data);
    if (!entry) return;
    if (this.#leader !== null && this.#gathering === null) this.#postSend(entry, true);
    this.#backlog.push(entry);
  }

  /** As `Connection.request`; in a follower the leader's tracker runs it and only this tab sees the reply. */
  request<R = In>(message: Out, options: RequestOptions = {}): Promise<R> {
    if (this.#leading || !this.shared) return this.#conn.request<R>(message, options);
    if (this.#ended) return Promise.reject(new SocketchartError('ERR_CONNECTION_CLOSED', 'request() after close(): the connection is closed.'));
    return this.#asked.ask<R>(message, options);
  }

  /**
   * Close this tab's handle. A leader closes its socket and the lock passes to the next tab, which opens its own
   * (the others see a handover); a follower just leaves. Sends the leader has not acknowledged yet are reported as
   * `drop` events (reason `closed`): they may still have gone out.
   */
  close(code?: number, reason?: string): void {
    checkClose(code, reason);
    if (this.#ended) return;
    this.#ended = true;
    this.#closeArgs = [code, reason];
    const leading = this.#leading;
    // A leader resigns here: it says bye and closes its socket (its own listeners see that close).
    this.actor.send({ type: 'CLOSE' });
    // A leader's connection reports what it could not deliver as it ends, some of it to the tabs that sent it.
    if (leading) return this.#channel.closeWhenEnded(this.#conn as Connection<unknown, never>);
    this.#channel.close();
    this.#conn.close(code, reason); // never opened: this only ends it
    // This tab's messages the session holds may still go out through the next leader, as its backlog may.
    for (const entry of this.#session?.ownHeld() ?? []) this.#dispatch(new DropEvent(entry.data, 'closed', now(), 'message' in entry ? entry.message : entry.data));
    for (const entry of this.#backlog.takeAll()) this.#dispatch(new DropEvent(entry.data, 'closed', now(), entry.message));
    // Written by the leader and not confirmed: nobody can report them to this tab once it left.
    this.#unsettled.orphan();
    this.#asked.rejectAll();
    if (this.#state === 'closed') return;
    const closedBy: ClosedReason = { kind: 'user', code: code ?? 1000, reason: reason ?? '', wasClean: true };
    this.#snap = { ...this.#snap, closedBy: toWireClosedReason(closedBy) };
    this.#moveTo('closed', { type: 'CLOSE' });
    this.#dispatch(new SocketCloseEvent(closedBy, closedBy, now()));
  }

  /** Leave `idle` or `closed` and connect (a follower asks the leader). */
  open(): void {
    assertNotClosed(this.#ended, 'open()');
    if (this.#leading || !this.shared) this.#conn.open();
    else if (this.#leader !== null) this.#post({ t: 'command', from: this.#tab, to: this.#leader, command: 'open' });
  }

  reconnect(): void {
    assertNotClosed(this.#ended, 'reconnect()');
    if (this.#leading || !this.shared) this.#conn.reconnect();
    else if (this.#leader !== null) this.#post({ t: 'command', from: this.#tab, to: this.#leader, command: 'reconnect' });
  }

  #lead(epoch: number): void {
    const previous = this.#leader;
    if (previous !== null) this.#showLost();
    this.#epoch = epoch;
    // What the leaders before wrote for this tab and never confirmed: none of them can report it any more. Except
    // the last one, if it is closing rather than crashed: the lock passes within milliseconds, and its bye (saying
    // it goes on reporting) may still be on its way. It gets GATHER_WAIT_MS to say so.
    if (previous !== null && previous !== this.#tab && previous !== this.#lastBye && this.#channel.exists) {
      this.#unsettled.orphan((l) => l !== previous);
      this.#awaitingBye = { from: previous, timer: setTimeout(() => this.#byeMissed(), GATHER_WAIT_MS) };
    } else this.#unsettled.orphan();
    // A leader that left without a bye (its page crashed) may have posted its last log entries and acks just before
    // the lock passed, and they may reach this tab after it: wait for them (a bye would come after them, as each
    // tab's posts arrive in order), at most GATHER_WAIT_MS, and take every tab's copy of the session meanwhile.
    if (this.#session?.sid != null && previous !== null && previous !== this.#tab && previous !== this.#lastBye && this.#channel.exists) {
      this.#gathering = { from: previous, timer: setTimeout(() => this.#resume(), GATHER_WAIT_MS) };
      this.#post({ t: 'gather', from: this.#tab, epoch });
      return;
    }
    this.#resume();
  }

  /** Leads: resumes the session, writes this tab's own backlog, opens the socket and announces itself. */
  #resume(): void {
    if (this.#gathering !== null) clearTimeout(this.#gathering.timer);
    this.#gathering = null;
    this.#leading = true;
    this.#leader = this.#tab;
    const session = this.#session;
    if (session !== null) {
      // Resume the session the tabs kept (same id, same seqs); followers' sends in it are not taken again.
      session.lead(this.#layer as DeliveryLayer);
      this.#relay.adopt(session.tabs, session.messages);
    }
    // This tab's own unacknowledged sends go first: into the connection's queue, written on open before anything held.
    for (const entry of this.#backlog.takeAll()) this.#conn.send(entry.message as Out);
    session?.flush();
    this.#asked.handTo(this.#conn as Connection<unknown, Out>);
    // A session that was idle or closed stays so until someone calls open().
    if (this.#state !== 'idle' && this.#state !== 'closed') this.#conn.open();
    if (this.#channel.exists) this.#announce();
  }

  /** The leader this tab took over from never said bye: it crashed, and what it wrote for this tab is unconfirmed. */
  #byeMissed(): void {
    const awaited = this.#awaitingBye;
    this.#awaitingBye = null;
    if (awaited !== null) this.#unsettled.orphan((l) => l === awaited.from);
  }

  /** Tab `from` said bye (`reports`: its connection goes on reporting what it cannot confirm). */
  #left(from: string, reports: boolean): void {
    this.#lastBye = from;
    if (this.#awaitingBye?.from === from) {
      clearTimeout(this.#awaitingBye.timer);
      this.#awaitingBye = null;
    }
    if (reports) this.#unsettled.forget(from);
    else this.#unsettled.orphan((l) => l === from);
    // Its bye follows all its posts: this tab has its last word on the session.
    if (this.#gathering?.from === from) this.#resume();
    else this.actor.send({ type: 'LEADER.LEFT', leader: from });
  }

  #announce(to?: string): void {
    const session = this.#session?.wire();
    this.#post({ t: 'leader', from: this.#tab, epoch: this.#epoch, ...(to === undefined ? {} : { to }), snap: this.#leaderSnapshot(), ...(session ? { session } : {}) });
  }

  #resign(): void {
    if (this.#gathering !== null) {
      // Never resumed: the next tab to take the lock resumes the session instead.
      clearTimeout(this.#gathering.timer);
      this.#gathering = null;
    }
    if (!this.#leading) return;
    this.#leading = false;
    this.#relay.resign();
    if (this.#session !== null) {
      this.#session.handOver();
      this.#handingOver = this.#channel.exists;
    }
    // This tab stays: its connection reports what it cannot confirm, to the tabs that sent it.
    if (this.#channel.exists) this.#post({ t: 'bye', from: this.#tab, epoch: this.#epoch, reports: true });
    this.#leader = null;
    // Followers keep every send and request until acknowledged: the next leader gets them again; only this tab's
    // own listeners hear this close.
    this.#mirrorOnly = true;
    const [code, reason] = this.#closeArgs;
    this.#conn.close(code, reason);
  }

  #follow(leader: string, epoch: number): void {
    if (this.#leader !== null && this.#leader !== leader) this.#showLost();
    // Another leader now: the ones before left without reporting what they wrote for this tab (a bye would have).
    this.#unsettled.orphan((l) => l !== leader);
    this.#leader = leader;
    this.#epoch = epoch;
    // The backlog, then whatever is sent from now on, all addressed to this leader: nothing new overtakes it.
    for (const entry of this.#backlog.entries) this.#postSend(entry);
    this.#asked.askAgain();
  }

  /** Nobody leads for a moment: every tab shows what a lost socket shows, and then the new leader's attempt. */
  #showLost(): void {
    if (this.#state === 'closed' || this.#state === 'idle' || this.#state.startsWith('reconnecting')) return;
    const wasOpen = this.#state === 'open';
    this.#moveTo('reconnecting.backoff', { type: 'LEADER.LOST' });
    if (wasOpen) this.#dispatch(new SocketCloseEvent({ code: 1006, reason: 'the leader tab went away', wasClean: false }, undefined, now()));
    this.#dispatch(new ReconnectingEvent(1, 0, now()));
  }

  #leaderSnapshot(): LeaderSnapshot {
    return { state: this.#state, url: this.#conn.url, protocol: this.#conn.protocol, extensions: this.#conn.extensions, closedBy: toWireClosedReason(this.#conn.closedBy) };
  }

  /** This tab's private parts, as receive.ts acts on them. */
  #inside(): TabInside {
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- getters below read this tab's private fields
    const self = this;
    return {
      id: this.#tab,
      // Created after this object, before anything can use it.
      get actor() {
        return self.actor;
      },
      conn: this.#conn as Connection<unknown, unknown>,
      relay: this.#relay as LeaderRelay<unknown>,
      backlog: this.#backlog,
      asked: this.#asked,
      events: this.events,
      session: this.#session,
      get ended() {
        return self.#ended;
      },
      get leading() {
        return self.#leading;
      },
      get leader() {
        return self.#leader;
      },
      get epoch() {
        return self.#epoch;
      },
      get handingOver() {
        return self.#handingOver;
      },
      get gathering() {
        return self.#gathering !== null;
      },
      unsettled: this.#unsettled,
      left: (from, reports) => this.#left(from, reports),
      copied: (session) => {
        if (this.#gathering !== null) this.#session?.merge(session);
      },
      own: () => this.#own(),
      announce: (to) => this.#announce(to),
      sync: (snap, event) => this.#sync(snap, event),
      moveTo: (to, event) => this.#moveTo(to, event),
      leaderSnapshot: () => this.#leaderSnapshot(),
      broadcast: (msg) => this.#broadcast(msg),
      post: (msg) => this.#post(msg),
      dispatch: (event) => this.#dispatch(event),
    };
  }

  /** A fresh send that cannot be copied throws (it is not kept); one from the backlog was checked when it was sent. */
  #postSend(entry: { seq: number; message: unknown }, fresh = false): void {
    try {
      this.#post({ t: 'send', from: this.#tab, to: this.#leader as string, seq: entry.seq, message: entry.message });
    } catch (error) {
      if (fresh) throw notCloneable(error);
      throw error;
    }
  }

  #post(msg: WireMessage): void {
    this.#channel.post(msg);
  }

  #broadcast(msg: WireMessage): void {
    this.#channel.broadcast(msg, this.#tab, this.#epoch);
  }

  #sync(snap: LeaderSnapshot, event: string): void {
    const { state, ...rest } = snap;
    this.#snap = rest;
    const wasOpen = this.#state === 'open';
    this.#moveTo(state, { type: event });
    // A tab that joins (or follows a new leader) while the socket is open missed its `open` event: this is its open.
    if (event === SYNC && state === 'open' && !wasOpen) this.events.replay({ type: 'open' }, now());
  }

  #moveTo(to: string, event: { type: string }): void {
    const from = this.#state;
    if (from === to) return;
    this.#state = to;
    this.#dispatch(new StateChangeEvent(from, to, event, now()));
  }

  /** Whether this tab's own connection is the one it shows: while it leads, and after it resigned. */
  #own(): boolean {
    return this.#leading || this.#mirrorOnly;
  }

  #dispatch(event: SocketchartEvent): void {
    this.events.dispatch(event);
  }
}
