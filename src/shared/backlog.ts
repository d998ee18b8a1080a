/**
 * A follower's sends the leader has not acknowledged yet, in order. They stay here until an ack covers them, and
 * are sent again, in order, to every new leader; while nobody leads they wait here. Bounded as the connection's
 * queue is (`queue.maxMessages`, `queue.maxBytes`, `queue.overflow`): what does not fit is a `drop` event.
 */
import { type SendData, byteLengthOf } from '../data.js';
import { SocketchartError } from '../errors.js';
import type { DropReason, ResolvedQueue } from '../policies/queue.js';

export interface Backlogged {
  seq: number;
  message: unknown;
  data: SendData;
  /** Reported as a `drop` before the leader's ack reached this tab: not to be reported again. */
  reported?: true;
}

export class Backlog {
  readonly #limits: ResolvedQueue;
  readonly #dropped: (entry: { data: SendData; message: unknown }, reason: DropReason) => void;
  #entries: Backlogged[] = [];
  #bytes = 0;
  #seq = 0;

  constructor(limits: ResolvedQueue, dropped: (entry: { data: SendData; message: unknown }, reason: DropReason) => void) {
    this.#limits = limits;
    this.#dropped = dropped;
  }

  get bytes(): number {
    return this.#bytes;
  }

  get entries(): readonly Backlogged[] {
    return this.#entries;
  }

  /** Makes room for one more (or reports it and returns null), and numbers it. */
  admit(message: unknown, data: SendData): Backlogged | null {
    const { maxMessages, maxBytes, overflow } = this.#limits;
    const bytes = byteLengthOf(data);
    const fits = () => this.#entries.length < maxMessages && this.#bytes + bytes <= maxBytes;
    if (!fits()) {
      if (overflow === 'reject') {
        throw new SocketchartError(
          'ERR_QUEUE_FULL',
          `The leader has not acknowledged ${this.#entries.length} sends (${this.#bytes} bytes) yet; queue.maxMessages is ${maxMessages}, queue.maxBytes ${maxBytes}. Send less at once or raise them.`,
        );
      }
      if (overflow === 'drop-newest' || bytes > maxBytes) {
        this.#dropped({ data, message }, bytes > maxBytes ? 'too-large' : 'queue-full');
        return null;
      }
      while (!fits()) this.#dropped(this.#shift(), 'queue-full');
    }
    return { seq: this.#seq + 1, message, data };
  }

  push(entry: Backlogged): void {
    this.#seq = entry.seq;
    this.#entries.push(entry);
    this.#bytes += byteLengthOf(entry.data);
  }

  /** The leader wrote everything up to `seq`: those leave, and are returned (but for those already reported). */
  ack(seq: number): Backlogged[] {
    const acked: Backlogged[] = [];
    while (this.#entries.length > 0 && (this.#entries[0] as Backlogged).seq <= seq) {
      const entry = this.#shift();
      if (!entry.reported) acked.push(entry);
    }
    return acked;
  }

  /** Send `seq` was reported dropped (its ack may still come). */
  reported(seq: number): void {
    const entry = this.#entries.find((e) => e.seq === seq);
    if (entry) entry.reported = true;
  }

  takeAll(): Backlogged[] {
    this.#bytes = 0;
    return this.#entries.splice(0);
  }

  #shift(): Backlogged {
    const entry = this.#entries.shift() as Backlogged;
    this.#bytes -= byteLengthOf(entry.data);
    return entry;
  }
}
