import type { SendData } from '../data.js';
import { sizeOf } from '../metrics.js';
import { BatchOrigin, MessageTrail } from './queue.js';

/**
 * Plain mode (no `delivery`) cannot know what the server received: TCP reports a write done once the kernel has the
 * bytes, and a connection that dies takes whatever was still in flight with it. Two things do prove receipt:
 * - a pong: WebSocket frames are read in order, so the server's WebSocket layer had every message written before
 *   the ping it answers;
 * - a clean closing handshake: the server's close frame follows everything it read.
 * So this log keeps the messages written on the live socket since the last such proof. If the socket then closes
 * uncleanly, they are reported (`drop` with reason `'unconfirmed'`: they may or may not have arrived) instead of
 * vanishing without a trace.
 */
export interface UnconfirmedOptions {
  /**
   * Messages kept awaiting confirmation. Past it, the oldest are no longer tracked (counted in
   * `metrics.unconfirmedUntracked`): if that socket then dies, they cannot be reported.
   * @default 1000
   */
  maxMessages?: number;
  /**
   * Bytes kept awaiting confirmation (counted as `metrics.bytesOut` counts them), with the same effect.
   * @default 1048576 (1 MiB)
   */
  maxBytes?: number;
  /**
   * Where the transport can send ping frames (Node), one goes out after this many unconfirmed writes (or sooner, once
   * the log holds a quarter of `maxMessages` or `maxBytes`), so the log stays short even between heartbeats.
   * 0 or Infinity: confirm only through heartbeat pongs.
   * @default 100
   */
  confirmEvery?: number;
}

export type ResolvedUnconfirmed = Required<UnconfirmedOptions>;

/**
 * A ping of ours carries its mark (the write count when it went out), so its pong confirms exactly that much even
 * if pongs come late or not at all: one tag byte (which ping), then the mark as a big-endian float64 (exact to 2^53).
 */
export const CONFIRM_PING = 0x53;
export const HEARTBEAT_PING = 0x48;
const MARK_BYTES = 9;

/**
 * One float64 seen as bytes, to write and read marks without a DataView per ping. The wire order is big-endian;
 * `SWAP` says whether this machine's order differs (it does on every little-endian CPU).
 */
const SCRATCH = new Float64Array(1);
const SCRATCH_BYTES = new Uint8Array(SCRATCH.buffer);
const SWAP = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export function encodeMark(mark: number, tag: typeof CONFIRM_PING | typeof HEARTBEAT_PING): Uint8Array {
  // A fresh array each time: the transport may still hold the last one (ws queues frames while it is busy).
  const bytes = new Uint8Array(MARK_BYTES);
  bytes[0] = tag;
  SCRATCH[0] = mark;
  for (let i = 0; i < 8; i++) bytes[1 + i] = SCRATCH_BYTES[SWAP ? 7 - i : i] as number;
  return bytes;
}

/** The mark in one of our ping payloads, or -1 if the payload is not one of ours (e.g. a peer that echoes nothing). */
function markOf(data: Uint8Array): number {
  const tag = data[0];
  if (data.byteLength !== MARK_BYTES || (tag !== CONFIRM_PING && tag !== HEARTBEAT_PING)) return -1;
  for (let i = 0; i < 8; i++) SCRATCH_BYTES[SWAP ? 7 - i : i] = data[1 + i] as number;
  const mark = SCRATCH[0] as number;
  // Our marks are whole write counts; anything else in a 9-byte payload that starts like ours is not ours.
  return Number.isSafeInteger(mark) && mark >= 0 ? mark : -1;
}

/** The ping a pong answers and its mark, or null if the payload is not one of ours (e.g. a peer that echoes nothing). */
export function decodeMark(data: Uint8Array): { tag: number; mark: number } | null {
  const mark = markOf(data);
  return mark < 0 ? null : { tag: data[0] as number, mark };
}

/** One write: a message, or the messages a batch frame carried (reported one by one). */
export type LoggedWrite = SendData | readonly SendData[];

/**
 * The ring's size when a write arrives at an empty log (it doubles when full): small, as most connections hold one
 * or two unconfirmed writes between pongs. Rings past SHRINK_ABOVE shrink once mostly empty again.
 */
const FIRST_CAPACITY = 4;
const SHRINK_ABOVE = 64;

/**
 * The messages written since the last proof of receipt, oldest first. Positions are counted over every write
 * (`mark`), so a proof that covers "everything written before write N" confirms by position; the limits and
 * `length` count messages (a batch frame is one write of several messages).
 *
 * Held in a ring: a write is one store, a confirmation walks only the writes it confirms, and nothing is ever
 * copied except when the ring doubles (or shrinks after a burst). An empty log holds no array at all.
 */
export class UnconfirmedLog {
  /** Shared by every connection with the same options (one field, not one per limit). */
  readonly #limits: LogLimits;
  /** Power-of-two sized; null while empty (allocated on the first write, dropped whenever the log empties). */
  #ring: Array<LoggedWrite | undefined> | null = null;
  /** Ring index of the oldest write held. */
  #head = 0;
  /** Writes held. */
  #writes = 0;
  /** Writes ever: the write number the next write gets. */
  #written = 0;
  #bytes = 0;
  #messages = 0;
  /** Messages dropped from tracking by the limits, ever. */
  untracked = 0;

  constructor(limits: LogLimits) {
    this.#limits = limits;
  }

  protected get limits(): LogLimits {
    return this.#limits;
  }

  /** Writes so far: a proof obtained after this many writes confirms all of them. */
  get mark(): number {
    return this.#written;
  }

  /** Messages held. */
  get length(): number {
    return this.#messages;
  }

  get bytes(): number {
    return this.#bytes;
  }

  add(write: LoggedWrite): void {
    let ring = this.#ring;
    if (ring === null) ring = this.#ring = new Array<LoggedWrite | undefined>(FIRST_CAPACITY).fill(undefined);
    else if (this.#writes === ring.length) ring = this.#resize(ring.length * 2);
    ring[(this.#head + this.#writes) & (ring.length - 1)] = write;
    this.#writes++;
    this.#written++;
    if (Array.isArray(write)) {
      this.#messages += write.length;
      this.#bytes += sizeOfBatch(write as readonly SendData[]);
    } else {
      this.#messages++;
      this.#bytes += sizeOf(write);
    }
    // The newest write always stays: a limit smaller than one batch must not untrack what was just written.
    const { maxMessages, maxBytes } = this.#limits;
    while (this.#writes > 1 && (this.#messages > maxMessages || this.#bytes > maxBytes)) {
      this.untracked += this.#shift(ring);
    }
  }

  /** Everything written before write number `mark` reached the server. */
  confirm(mark: number): void {
    const ring = this.#ring;
    if (ring === null) return;
    let confirmed = Math.min(mark - (this.#written - this.#writes), this.#writes);
    while (confirmed-- > 0) this.#shift(ring);
    if (this.#writes === 0) {
      this.#ring = null;
      this.#head = 0;
    } else if (ring.length > SHRINK_ABOVE && this.#writes * 8 <= ring.length) {
      // After a burst: do not keep a ring sized for it while only a few writes stay unconfirmed at a time.
      this.#resize(ring.length / 4);
    }
  }

  /** Empties the log and returns the messages it held, oldest first (for reporting). */
  takeAll(): SendData[] {
    const taken: SendData[] = [];
    const ring = this.#ring;
    if (ring !== null) {
      const mask = ring.length - 1;
      for (let i = 0; i < this.#writes; i++) {
        const write = ring[(this.#head + i) & mask] as LoggedWrite;
        if (Array.isArray(write)) for (const data of write as readonly SendData[]) taken.push(data);
        else taken.push(write as SendData);
      }
    }
    this.#ring = null;
    this.#head = 0;
    this.#writes = 0;
    this.#bytes = 0;
    this.#messages = 0;
    return taken;
  }

  /** Forgets the oldest write; returns how many messages it held. */
  #shift(ring: Array<LoggedWrite | undefined>): number {
    const write = ring[this.#head] as LoggedWrite;
    ring[this.#head] = undefined; // release the message now
    this.#head = (this.#head + 1) & (ring.length - 1);
    this.#writes--;
    let messages = 1;
    if (Array.isArray(write)) {
      messages = write.length;
      this.#bytes -= sizeOfBatch(write as readonly SendData[]);
    } else this.#bytes -= sizeOf(write);
    this.#messages -= messages;
    return messages;
  }

  /** Copies the writes held, oldest first, into a ring of `capacity` (a power of two, at least #writes). */
  #resize(capacity: number): Array<LoggedWrite | undefined> {
    const old = this.#ring as Array<LoggedWrite | undefined>;
    const ring = new Array<LoggedWrite | undefined>(capacity).fill(undefined);
    const mask = old.length - 1;
    for (let i = 0; i < this.#writes; i++) ring[i] = old[(this.#head + i) & mask];
    this.#head = 0;
    this.#ring = ring;
    return ring;
  }
}

/** Bytes as `metrics.bytesOut` counts them (string length for text: no re-encoding on the hot path). */
function sizeOfBatch(batch: readonly SendData[]): number {
  let bytes = 0;
  for (const data of batch) bytes += sizeOf(data);
  return bytes;
}

/** The limits a log keeps to. */
export interface LogLimits {
  readonly maxMessages: number;
  readonly maxBytes: number;
}

/** When the tracker asks for a receipt: made once per options and transport kind, shared by their connections. */
interface ConfirmPlan extends LogLimits {
  /** Writes between confirmation pings; 0: none (the transport cannot ping, or confirmEvery 0/Infinity). */
  readonly confirmEvery: number;
  /** Messages / bytes held at which a confirmation ping goes out whatever the write count. */
  readonly messagesTrigger: number;
  readonly bytesTrigger: number;
}

const plans = new WeakMap<ResolvedUnconfirmed, [ConfirmPlan | undefined, ConfirmPlan | undefined]>();

function planFor(options: ResolvedUnconfirmed, canPing: boolean): ConfirmPlan {
  let pair = plans.get(options);
  if (pair === undefined) plans.set(options, (pair = [undefined, undefined]));
  const index = canPing ? 1 : 0;
  const pings = canPing && options.confirmEvery > 0 && options.confirmEvery !== Infinity;
  return (pair[index] ??= Object.freeze({
    maxMessages: options.maxMessages,
    maxBytes: options.maxBytes,
    confirmEvery: pings ? options.confirmEvery : 0,
    // Counts are whole, so `>= ceil(x)` is `>= x`.
    messagesTrigger: Math.ceil(Math.max(1, options.maxMessages / 4)),
    bytesTrigger: Math.ceil(Math.max(1, options.maxBytes / 4)),
  }));
}

/**
 * Everything plain mode does to learn what the server received, for the socket that is live: the log of
 * unconfirmed writes, confirmation pings (one in flight at a time), and the marks the heartbeat's pings carry. The
 * connection tells it what happens; it says what to report when the socket ends.
 *
 * A confirmation ping goes out when the log holds `confirmEvery` writes, or a quarter of either limit (batches carry
 * many messages per write, large messages fill `maxBytes` in few writes): pongs then come back well before the log
 * reaches a limit and starts to untrack, at a steady rate. Between such pings, the heartbeat's pongs confirm too.
 */
export class ReceiptTracker extends UnconfirmedLog {
  // A log itself (not holding one): one object per connection instead of two.
  // Sentinels are small integers, never Infinity: a field that may hold Infinity is a boxed number per connection.
  /** The write count at which the next confirmation ping goes out; -1 while none is due (not open, or no pings). */
  #confirmAt = -1;
  #confirmInFlight = false;
  /**
   * Message-mode heartbeat: the write count when each unanswered ping went out, oldest first. Its pongs carry no
   * mark, so each takes the oldest: a pong that never comes makes later ones confirm less, never more.
   */
  #pongMarks: number[] | null = null;

  /** The messages behind the logged frames, for their drop reports; only with a codec (raw: message is frame). */
  readonly #trail: MessageTrail | null;

  constructor(options: ResolvedUnconfirmed, canPing: boolean, keepMessages: boolean) {
    super(planFor(options, canPing));
    this.#trail = keepMessages ? new MessageTrail() : null;
  }

  get #plan(): ConfirmPlan {
    return this.limits as ConfirmPlan;
  }

  /** A new socket is open (the last one was settled). */
  opened(): void {
    const every = this.#plan.confirmEvery;
    if (every > 0) this.#confirmAt = this.mark + every;
  }

  /**
   * A user message (or a batch's messages) went out on `socket`; past the thresholds, ask for a receipt. `origin`
   * is what `send()` was given (a `BatchOrigin` for a batch frame), kept in the trail with a codec.
   */
  written(socket: { ping?(data?: Uint8Array): void }, data: SendData, origin: unknown): void {
    const log = this as UnconfirmedLog;
    const batch = origin instanceof BatchOrigin ? origin : null;
    log.add(batch !== null ? batch.frames : data);
    const trail = this.#trail;
    if (trail !== null) {
      if (batch !== null) for (const message of batch.messages) trail.push(message);
      else trail.push(origin);
      trail.keepLast(log.length);
    }
    const confirmAt = this.#confirmAt;
    if (confirmAt < 0 || this.#confirmInFlight) return;
    const plan = this.#plan;
    if (log.mark >= confirmAt || log.length >= plan.messagesTrigger || log.bytes >= plan.bytesTrigger) {
      this.#confirmInFlight = true;
      socket.ping?.(encodeMark(log.mark, CONFIRM_PING));
    }
  }

  /** The payload for a heartbeat ping frame: its pong confirms what was written before it. */
  heartbeatPing(): Uint8Array {
    return encodeMark(this.mark, HEARTBEAT_PING);
  }

  /** A message-mode heartbeat ping went out. Bounded: past 8 a mark is not kept (later pongs confirm less). */
  messagePingSent(): void {
    const marks = (this.#pongMarks ??= []);
    if (marks.length < 8) marks.push(this.mark);
  }

  /** A message-mode pong arrived: it answers the oldest unanswered ping. */
  messagePonged(): void {
    const mark = this.#pongMarks?.shift();
    if (mark !== undefined) this.#confirm(mark);
  }

  /**
   * A pong frame arrived. Returns true when it answered a confirmation ping (the heartbeat must not count it);
   * a heartbeat ping's pong confirms too, and one without our payload (a peer that echoes nothing) confirms nothing.
   */
  pong(data: Uint8Array | undefined): boolean {
    if (data === undefined) return false;
    const mark = markOf(data);
    // Past the writes made, the payload is not an answer to any ping of ours (a peer making up pongs): it proves nothing.
    if (mark < 0 || mark > this.mark) return false;
    this.#confirm(mark);
    if (data[0] !== CONFIRM_PING) return false;
    this.#confirmInFlight = false;
    return true;
  }

  /**
   * The socket that carried the logged writes is gone. A closing handshake the client started and the server
   * answered proves receipt of all of them (its answer follows our close frame, which follows them); anything else,
   * a close the server started included, may have lost them: each is given to `report`, oldest first, with its message.
   */
  settle(confirmedByHandshake: boolean, report: (data: SendData, message: unknown) => void): void {
    this.#pongMarks = null;
    this.#confirmInFlight = false;
    this.#confirmAt = -1;
    const unconfirmed = this.length === 0 ? [] : this.takeAll();
    if (confirmedByHandshake) unconfirmed.length = 0;
    // The log holds the newest writes, so the trail's newest messages are theirs, in the same order.
    const messages = this.#trail?.takeLast(unconfirmed.length);
    for (let i = 0; i < unconfirmed.length; i++) {
      const data = unconfirmed[i] as SendData;
      report(data, messages ? messages[i] : data);
    }
  }

  #confirm(mark: number): void {
    this.confirm(mark);
    if (this.#confirmAt >= 0) this.#confirmAt = mark + this.#plan.confirmEvery;
  }
}
