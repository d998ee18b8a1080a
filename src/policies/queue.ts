import { type SendData, byteLengthOf } from '../data.js';
import { SocketchartError, type SocketchartErrorCode } from '../errors.js';
import { type Assert, type ListsAllKeys, delay, group, oneOf, whole } from '../validate.js';

/**
 * The outbound queue: messages sent while the connection is not open wait here, bounded, and leave either by
 * being flushed in order on open or by being dropped with a reason. Nothing leaves any other way.
 */
export interface QueueOptions {
  /**
   * Most messages held while not open.
   * @default 1000
   */
  maxMessages?: number;
  /**
   * Most bytes (UTF-8 for strings) held while not open.
   * @default 1048576
   */
  maxBytes?: number;
  /**
   * A message older than this many ms is dropped (reason `expired`) instead of being sent late.
   * @default Infinity
   */
  ttl?: number;
  /**
   * What to do when a new message does not fit: drop the oldest queued ones, drop the new one, or throw
   * `ERR_QUEUE_FULL` from `send()` so the caller decides.
   * @default 'drop-oldest'
   */
  overflow?: OverflowPolicy;
}

export type OverflowPolicy = 'drop-oldest' | 'drop-newest' | 'reject';
export type ResolvedQueue = Required<QueueOptions>;

export const QUEUE_DEFAULTS = Object.freeze({
  maxMessages: 1000,
  maxBytes: 1_048_576,
  ttl: Infinity,
  overflow: 'drop-oldest',
}) satisfies ResolvedQueue;

const OVERFLOW: readonly OverflowPolicy[] = ['drop-oldest', 'drop-newest', 'reject'];

const KEYS = ['maxMessages', 'maxBytes', 'ttl', 'overflow'] as const;
type _Keys = Assert<ListsAllKeys<QueueOptions, typeof KEYS>>;

export function resolveQueue(options: QueueOptions | undefined): ResolvedQueue {
  const o = group('queue', options, KEYS);
  // Connections with the default queue share the frozen defaults instead of each holding a copy.
  if (o === undefined) return QUEUE_DEFAULTS;
  const d = QUEUE_DEFAULTS;
  return {
    maxMessages: whole('queue.maxMessages', o.maxMessages, d.maxMessages, 0, true),
    maxBytes: whole('queue.maxBytes', o.maxBytes, d.maxBytes, 0, true),
    ttl: delay('queue.ttl', o.ttl, d.ttl, true),
    overflow: oneOf('queue.overflow', o.overflow, d.overflow, OVERFLOW),
  };
}

/** Why a message could not be delivered. */
export type DropReason =
  /** Pushed out of a full queue (`drop-oldest`) or refused by it (`drop-newest`). */
  | 'queue-full'
  /** Bigger than the whole queue's byte budget. */
  | 'too-large'
  /** Waited longer than `queue.ttl`. */
  | 'expired'
  /** The session ended (user `close()`, fatal close, gave up) while it was queued, or it was sent after that. */
  | 'closed'
  /**
   * Plain mode: written to a socket that then closed uncleanly before the server confirmed it (by a pong or a
   * closing handshake). It may or may not have arrived; `delivery: atLeastOnce()` knows.
   */
  | 'unconfirmed';

export interface Dropped {
  data: SendData;
  reason: DropReason;
  /** What was passed to `send()` (the queue reports the `origin` it was given; `data` itself under the raw codec). */
  message: unknown;
}

/**
 * The messages one batch frame carries, as its queue entry's origin: a drop reports them one by one, each with its
 * own frame and message (the user never sent the envelope itself). Under the raw codec `messages` is `frames`.
 */
export class BatchOrigin {
  constructor(
    readonly frames: readonly SendData[],
    readonly messages: readonly unknown[],
  ) {}
}

/**
 * With a codec other than raw: the messages of the writes the unconfirmed log holds, oldest first. The log keeps
 * frames only (it sizes them, and must not tell a batch from a message that happens to be an array), and it always
 * holds a suffix of the writes made: confirmations and its limits remove the oldest. So the last N messages here
 * are the messages of the N frames it reports, in order. Trimmed to the log's length on every write, so it never
 * holds more than the log did.
 */
export class MessageTrail {
  #items: unknown[] = [];
  #head = 0;

  get length(): number {
    return this.#items.length - this.#head;
  }

  push(message: unknown): void {
    this.#items.push(message);
  }

  /** Forget all but the newest `count`. */
  keepLast(count: number): void {
    const excess = this.length - count;
    if (excess <= 0) return;
    const items = this.#items;
    for (let i = 0; i < excess; i++) items[this.#head + i] = undefined; // release them now
    this.#head += excess;
    if (this.#head === items.length) {
      this.#items = [];
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > items.length) {
      this.#items = items.slice(this.#head);
      this.#head = 0;
    }
  }

  /** The newest `count`, oldest first, and forget everything. */
  takeLast(count: number): unknown[] {
    const taken = this.#items.slice(Math.max(this.#head, this.#items.length - count));
    this.#items = [];
    this.#head = 0;
    return taken;
  }
}

/** What a queued message may carry besides its data: the request it belongs to, if any. */
export interface QueueTag {
  /** The request was settled while it waited: the message must not be written any more. */
  readonly settled: boolean;
  /** Where the message was written; set by whoever writes it. */
  sentOn: unknown;
  /** The queue gave up on the message (`reason`); whoever waits for it (a request) fails now instead of hanging. */
  reject?(error: unknown): void;
}

/** The error a request gets when the queue drops it, by drop reason. */
const DROP_ERRORS: Partial<Record<DropReason, SocketchartErrorCode>> = {
  'queue-full': 'ERR_QUEUE_FULL',
  'too-large': 'ERR_MESSAGE_TOO_LARGE',
  expired: 'ERR_REQUEST_TIMEOUT',
};

interface Entry {
  data: SendData;
  bytes: number;
  queuedAt: number;
  tag: QueueTag | undefined;
  /**
   * What a drop reports as the message: what was passed to `send()`, or a `BatchOrigin` for a batch frame. It takes
   * the place of the old batch-parts field, so an entry is no bigger for it; under the raw codec it is `data` itself.
   */
  origin: unknown;
}

export type EnqueueResult = 'queued' | 'rejected';

/** Where the queue reports what it drops. */
export interface DropSink {
  dropped(dropped: Dropped): void;
}

const EMPTY: readonly Entry[] = Object.freeze([]);

export class OutboundQueue {
  /** Allocated on the first enqueue: most connections never queue. */
  #entries: Entry[] = EMPTY as Entry[];
  #head = 0;
  #bytes = 0;
  readonly #options: ResolvedQueue;
  readonly #sink: DropSink;

  constructor(options: ResolvedQueue, sink: DropSink | ((dropped: Dropped) => void)) {
    this.#options = options;
    this.#sink = typeof sink === 'function' ? { dropped: sink } : sink;
  }

  get length(): number {
    return this.#entries.length - this.#head;
  }

  get bytes(): number {
    return this.#bytes;
  }

  /**
   * Whether entries expire (`ttl` set): only then does `now` mean anything to `enqueue`/`requeueFront`, so callers
   * read the clock only then (a burst while connecting would otherwise read it once per message for nothing).
   */
  get timed(): boolean {
    return this.#options.ttl !== Infinity;
  }

  /** `length`, as a delivery layer's `pending` names it. */
  get count(): number {
    return this.length;
  }

  /**
   * Queue `data`. Under `reject`, a message that does not fit is refused (`'rejected'`) and the caller must
   * report it; under the drop policies the queue reports what it drops itself, with `origin` (see `Entry.origin`).
   */
  enqueue(data: SendData, now: number, tag?: QueueTag, origin?: unknown): EnqueueResult {
    this.expire(now);
    const bytes = byteLengthOf(data);
    const { maxMessages, maxBytes, overflow } = this.#options;
    if (bytes > maxBytes || maxMessages === 0) {
      if (overflow === 'reject') return 'rejected';
      // Never queueable: too big for any queue, or a queue of no messages (socket.io's volatile sends) that is full.
      this.#drop({ data, bytes, queuedAt: now, tag, origin }, bytes > maxBytes ? 'too-large' : 'queue-full');
      return 'queued';
    }
    // No closure for the fit test: a burst past the bound runs this once per message.
    if (this.length >= maxMessages || this.#bytes + bytes > maxBytes) {
      if (overflow === 'reject') return 'rejected';
      if (overflow === 'drop-newest') {
        this.#drop({ data, bytes, queuedAt: now, tag, origin }, 'queue-full');
        return 'queued';
      }
      while (this.length >= maxMessages || this.#bytes + bytes > maxBytes) this.#drop(this.#shift(), 'queue-full');
    }
    if (this.#entries === EMPTY) this.#entries = [];
    this.#entries.push({ data, bytes, queuedAt: now, tag, origin });
    this.#bytes += bytes;
    return 'queued';
  }

  /**
   * Hand queued messages, oldest first, to `write` while `canWrite()` allows; expired ones are dropped instead.
   * Returns whether the queue is now empty.
   */
  drainWhile(
    canWrite: () => boolean,
    write: (data: SendData, tag: QueueTag | undefined, origin: unknown) => void,
    now: number,
  ): boolean {
    this.expire(now);
    while (this.length > 0 && canWrite()) {
      const entry = this.#shift();
      write(entry.data, entry.tag, entry.origin);
    }
    return this.length === 0;
  }

  /** Put a message back at the front (a write that the socket refused after it was taken from the queue). */
  requeueFront(data: SendData, now: number, tag?: QueueTag, origin?: unknown): void {
    const entry = { data, bytes: byteLengthOf(data), queuedAt: now, tag, origin };
    if (this.#head > 0) this.#entries[--this.#head] = entry;
    else if (this.#entries === EMPTY) this.#entries = [entry];
    else this.#entries.unshift(entry);
    this.#bytes += entry.bytes;
  }

  /** Drop every queued message with `reason`. */
  clear(reason: DropReason): void {
    while (this.length > 0) this.#drop(this.#shift(), reason);
  }

  expire(now: number): void {
    const { ttl } = this.#options;
    if (ttl === Infinity) return;
    while (this.length > 0 && now - (this.#entries[this.#head] as Entry).queuedAt > ttl) {
      this.#drop(this.#shift(), 'expired');
    }
  }

  #shift(): Entry {
    const entry = this.#entries[this.#head] as Entry;
    this.#entries[this.#head] = undefined as unknown as Entry;
    this.#head++;
    this.#bytes -= entry.bytes;
    // Compact now and then so a long-lived queue does not keep a growing hole at its front.
    if (this.#head === this.#entries.length) {
      this.#entries = EMPTY as Entry[];
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > this.#entries.length) {
      this.#entries = this.#entries.slice(this.#head);
      this.#head = 0;
    }
    return entry;
  }

  #drop(entry: Entry, reason: DropReason): void {
    this.#report(entry.data, entry.origin, reason);
    if (entry.tag !== undefined && !entry.tag.settled) {
      entry.tag.reject?.(new SocketchartError(DROP_ERRORS[reason] ?? 'ERR_CONNECTION_CLOSED', `The request was dropped from the outbound queue (${reason}) before it could be sent.`));
    }
  }

  #report(data: SendData, origin: unknown, reason: DropReason): void {
    if (!(origin instanceof BatchOrigin)) this.#sink.dropped({ data, reason, message: origin });
    else for (let i = 0; i < origin.frames.length; i++) this.#sink.dropped({ data: origin.frames[i] as SendData, reason, message: origin.messages[i] });
  }
}
