/**
 * A shared-store session's client messages (session.ts): the frames of the attached socket wait here in order, get
 * a fence check per batch, then `onMessage` and a mark each (fenced by the epoch they were checked with); the ack
 * covers a message only once the store recorded its mark. A socket whose mark failed is halted: its frames are no
 * longer processed and the client replays them on its next socket.
 */
import { WebSocket } from 'ws';
import { ACK_CLOSE_CODES, ackFrame } from '../delivery/protocol.js';
import { AckBatcher, type SequenceVerdict, classifySeq } from '../delivery/sequencing.js';
import { SocketchartError } from '../errors.js';
import { isThenable } from './memorySession.js';
import type { SharedSession } from './session.js';
import type { SharedContext } from './sharedContext.js';
import type { EffectFailure, Refusal, StoreEffect } from './store.js';
import { type AckMessage, type AckPayload, type Link, waitingFrameBytes } from './types.js';

export class SharedInbound {
  readonly #s: SharedSession;
  readonly #c: SharedContext;
  /** Client messages: the highest processed here, the highest whose mark the store recorded, the highest acked. */
  #lastIn = 0;
  readonly #acks: AckBatcher;
  /** Client frames waiting for the fence check and `onMessage`, in order. */
  #inbound: Array<[number, AckPayload]> = [];
  /** Bytes in `#inbound`, bounded by `maxBacklogBytes` (a store slower than the client's frames). */
  #inboundBytes = 0;
  #processing = false;
  /**
   * A socket whose frames are no longer processed: a mark of one of them failed, so the store refuses the marks
   * after it (not the next seq) and the client replays them all on its next socket.
   */
  #halted: Link | null = null;
  /** An async onMessage running, settled once its mark is sent. */
  #inFlight: Promise<unknown> | null = null;

  constructor(session: SharedSession, context: SharedContext) {
    this.#s = session;
    this.#c = context;
    // Acks cover only what the store recorded (`advance` is called when a mark is confirmed).
    this.#acks = new AckBatcher(context.clock, context.limits.ackEvery, context.limits.ackDelay, (ack) => {
      const ws = this.#s.link?.ws;
      if (!ws || ws.readyState !== WebSocket.OPEN) return false;
      ws.send(ackFrame(ack));
      return true;
    });
  }

  /** A claim attached a socket: `lastIn` is the highest client seq the store recorded. */
  reset(lastIn: number): void {
    this.#lastIn = lastIn;
    this.#acks.reset(lastIn);
    this.dropInbound();
  }

  /** The socket went away: its waiting frames are dropped (the client replays them) and no ack is due on it. */
  detach(): void {
    this.#acks.cancel();
    this.dropInbound();
  }

  dispose(): void {
    this.#acks.cancel();
  }

  data(seq: number, payload: AckPayload): void {
    if (this.#s.state !== 'attached' || this.#halted === this.#s.link) return;
    this.#inboundBytes += waitingFrameBytes(payload);
    if (this.#inboundBytes > this.#c.limits.maxBacklogBytes) {
      this.dropInbound();
      this.#c.fail(this.#s.link as Link, ACK_CLOSE_CODES.tryAgainLater, 'session store too slow');
      return;
    }
    this.#inbound.push([seq, payload]);
    if (!this.#processing) void this.#process(this.#s.link as Link);
  }

  /** Processing stopped for a claim that then did not happen: go on with the frames that came meanwhile. */
  resume(): void {
    const link = this.#s.link;
    if (link !== null && !this.#processing && this.#inbound.length > 0) void this.#process(link);
  }

  dropInbound(): void {
    this.#inbound = [];
    this.#inboundBytes = 0;
  }

  /**
   * Processes the waiting client frames in order: a fence check per batch, then `onMessage` and a mark per message.
   * An async `onMessage` is awaited before the next message, and the rest of the batch gets a new fence check.
   */
  async #process(link: Link): Promise<void> {
    this.#processing = true;
    try {
      while (this.#inbound.length > 0 && this.#processes(link) && this.#s.claiming === 0) {
        const epoch = this.#s.epoch;
        let fenced: number | Refusal;
        try {
          fenced = await this.#c.store.fence(this.#s.id, epoch);
        } catch (error) {
          this.#storeFailed(link, error);
          return;
        }
        if (fenced === 'stale') {
          this.#s.staleAt(epoch);
          return;
        }
        if (fenced === 'missing') {
          this.#s.missingAt(epoch);
          return;
        }
        // A claim sent meanwhile would refuse the marks: leave the frames to the client's replay on its new socket.
        if (!this.#processes(link) || this.#s.claiming > 0) return;
        const batch = this.#inbound;
        this.dropInbound();
        for (let i = 0; i < batch.length; i++) {
          // onMessage may have ended the session, or another node may have taken it, since the last message.
          if (!this.#processes(link)) return;
          const [seq, payload] = batch[i] as [number, AckPayload];
          const done = this.#one(link, seq, payload);
          if (done === false) return;
          if (done !== true) {
            if (!(await done)) return;
            if (this.#processes(link)) this.#requeue(batch, i + 1);
            break;
          }
        }
      }
    } finally {
      this.#processing = false;
      // Frames of a socket that attached while this loop awaited an async onMessage have nothing else to start them.
      const current = this.#s.link;
      if (current !== null && current !== link && this.#inbound.length > 0) void this.#process(current);
    }
  }

  /** Whether frames of `link` are still processed here. */
  #processes(link: Link): boolean {
    return this.#s.link === link && this.#s.state === 'attached' && this.#halted !== link;
  }

  /** Puts the frames of `batch` from `from` on back at the head of the queue. */
  #requeue(batch: Array<[number, AckPayload]>, from: number): void {
    const rest = batch.slice(from);
    for (const [, payload] of rest) this.#inboundBytes += waitingFrameBytes(payload);
    this.#inbound = rest.concat(this.#inbound);
  }

  /**
   * One client message: skipped if a duplicate, else `onMessage` and its mark. Answers whether to go on, or a
   * promise of it when `onMessage` is async (the mark is sent when it settles).
   */
  #one(link: Link, seq: number, payload: AckPayload): boolean | Promise<boolean> {
    const verdict: SequenceVerdict = classifySeq(seq, this.#lastIn);
    if (verdict === 'duplicate') {
      this.#c.stats.duplicates++;
      this.#acks.duplicate();
      return true;
    }
    if (verdict === 'gap') {
      this.#c.fail(link, ACK_CLOSE_CODES.sequenceGap, `expected seq ${this.#lastIn + 1}, got ${seq}`);
      return false;
    }
    this.#lastIn = seq;
    this.#c.stats.processed++;
    // The mark carries the epoch this message was fenced with: if the session was claimed again meanwhile, it is
    // refused, and the message goes to whoever holds the session now, whose state does not have it processed.
    const epoch = this.#s.epoch;
    const effects: StoreEffect[] = [];
    let open = true;
    const store = this.#c.store;
    const message: AckMessage = {
      key: `${this.#s.id}:${seq}`,
      seq,
      commit(effect) {
        if (!open) throw new SocketchartError('ERR_INVALID_DATA', 'message.commit() only works while onMessage runs.');
        store.checkEffect?.(effect);
        effects.push(effect);
      },
    };
    // A handler that failed counts as processed (no replay loop), without the effects it committed: as in memory.
    const failed = (error: unknown): true => {
      open = false;
      this.#c.report(error, this.#s);
      this.#mark(link, epoch, seq, payload, []);
      return true;
    };
    let result: unknown;
    try {
      result = this.#c.onMessage(this.#s, payload, message);
    } catch (error) {
      return failed(error);
    }
    if (isThenable(result)) {
      const done = Promise.resolve(result).then(() => {
        open = false;
        this.#mark(link, epoch, seq, payload, effects);
        return true;
      }, failed);
      const inFlight = (this.#inFlight = done.finally(() => {
        if (this.#inFlight === inFlight) this.#inFlight = null;
      }));
      return done;
    }
    open = false;
    this.#mark(link, epoch, seq, payload, effects);
    return true;
  }

  /** The async onMessage running, if any (`SharedSession.idle()`). */
  idle(): Promise<unknown> | null {
    return this.#inFlight;
  }

  /** Records message `seq` as processed (with `effects`); the ack covers it once the store answered. */
  #mark(link: Link, epoch: number, seq: number, payload: AckPayload, effects: readonly StoreEffect[]): void {
    this.#c.store.mark(this.#s.id, epoch, seq, effects).then(
      (result) => {
        if (result === 'stale') this.#s.staleAt(epoch);
        else if (result === 'missing') this.#s.missingAt(epoch);
        else if (result !== 'ok') this.#effectFailed(link, epoch, seq, payload, result);
        else if (this.#s.epoch === epoch && this.#s.state === 'attached') this.#acks.advance(seq);
      },
      (error) => {
        // After a failed mark on this socket the store refuses the later ones (not the next seq): already handled.
        if (this.#halted !== link) this.#storeFailed(link, error);
      },
    );
  }

  /**
   * The store could not run message `seq`'s effects, so it is not recorded. The socket stops being processed and
   * is closed with 1011: the client replays the message (and the later ones, whose marks the store now refuses).
   * An effect that always fails would have it replayed forever: after `maxEffectFailures` failures in a row
   * (counted in the store, whichever node ran them) the message is reported (onDeadLetter), then recorded
   * without its effects. Reported first: if this node dies in between, the next attempt reports it again.
   */
  #effectFailed(link: Link, epoch: number, seq: number, payload: AckPayload, failure: EffectFailure): void {
    this.#halt(link);
    this.#c.storeFailure(failure.failed, this.#s);
    if (failure.attempts < this.#c.limits.maxEffectFailures) {
      this.#c.fail(link, ACK_CLOSE_CODES.serverError, 'message effects failed');
      return;
    }
    this.#c.deadLetter(this.#s, payload, { key: `${this.#s.id}:${seq}`, seq }, failure.failed);
    this.#c.store.mark(this.#s.id, epoch, seq, []).then(
      (result) => {
        if (result === 'stale') this.#s.staleAt(epoch);
        else if (result === 'missing') this.#s.missingAt(epoch);
        this.#c.fail(link, ACK_CLOSE_CODES.serverError, 'message effects failed');
      },
      (error) => {
        this.#c.storeFailure(error, this.#s);
        this.#c.fail(link, ACK_CLOSE_CODES.serverError, 'session store failed');
      },
    );
  }

  /** Frames of `link` are no longer processed (it is being closed; the client replays them). */
  #halt(link: Link): void {
    this.#halted = link;
    if (this.#s.link === link) this.dropInbound();
  }

  #storeFailed(link: Link, error: unknown): void {
    this.#c.storeFailure(error, this.#s);
    // Nothing more can be recorded: the client replays what was not acknowledged on its next socket.
    this.#halt(link);
    this.#c.fail(link, ACK_CLOSE_CODES.serverError, 'session store failed');
  }
}
