import type { SendData } from '../data.js';
import { sizeOf } from '../metrics.js';

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
   * Where the transport can send ping frames (Node), one goes out after this many unconfirmed writes, so the log
   * stays short even between heartbeats. 0 or Infinity: confirm only through heartbeat pongs.
   * @default 100
   */
  confirmEvery?: number;
}

export type ResolvedUnconfirmed = Required<UnconfirmedOptions>;

/**
 * A ping of ours carries its mark (the write count when it went out), so its pong confirms exactly that much even
 * if pongs come late or not at all: one tag byte (which ping), then the mark as a float64 (exact to 2^53).
 */
export const CONFIRM_PING = 0x53;
export const HEARTBEAT_PING = 0x48;
const MARK_BYTES = 9;

export function encodeMark(mark: number, tag: typeof CONFIRM_PING | typeof HEARTBEAT_PING): Uint8Array {
  const bytes = new Uint8Array(MARK_BYTES);
  bytes[0] = tag;
  new DataView(bytes.buffer).setFloat64(1, mark);
  return bytes;
}

/** The ping a pong answers and its mark, or null if the payload is not one of ours (e.g. a peer that echoes nothing). */
export function decodeMark(data: Uint8Array): { tag: number; mark: number } | null {
  const tag = data[0];
  if (data.byteLength !== MARK_BYTES || (tag !== CONFIRM_PING && tag !== HEARTBEAT_PING)) return null;
  return { tag, mark: new DataView(data.buffer, data.byteOffset, data.byteLength).getFloat64(1) };
}

/** One write: a message, or the messages a batch frame carried (reported one by one). */
export type LoggedWrite = SendData | readonly SendData[];

/**
 * The messages written since the last proof of receipt, oldest first. Positions are counted over every write
 * (`mark`), so a proof that covers "everything written before write N" confirms by position; the limits and
 * `length` count messages (a batch frame is one write of several messages).
 */
export class UnconfirmedLog {
  readonly #limits: ResolvedUnconfirmed;
  /** Allocated on the first write, dropped whenever the log empties: an idle connection holds no array. */
  #data: LoggedWrite[] = NO_WRITES;
  /** Index of the oldest live entry in the arrays (they are compacted lazily). */
  #head = 0;
  /** Write count of the oldest live entry. */
  #first = 0;
  #written = 0;
  #bytes = 0;
  #messages = 0;
  /** Messages dropped from tracking by the limits, ever. */
  untracked = 0;

  constructor(limits: ResolvedUnconfirmed) {
    this.#limits = limits;
  }

  /** Writes so far: a proof obtained after this many writes confirms all of them. */
  get mark(): number {
    return this.#written;
  }

  /** Messages held. */
  get length(): number {
    return this.#messages;
  }

  get #writes(): number {
    return this.#data.length - this.#head;
  }

  get bytes(): number {
    return this.#bytes;
  }

  add(data: LoggedWrite): void {
    if (this.#data === NO_WRITES) this.#data = [];
    this.#data.push(data);
    this.#written++;
    this.#bytes += sizeOfWrite(data);
    this.#messages += countOf(data);
    // The newest write always stays: a limit smaller than one batch must not untrack what was just written.
    while (this.#writes > 1 && (this.#messages > this.#limits.maxMessages || this.#bytes > this.#limits.maxBytes)) {
      this.untracked += this.#shift();
    }
    this.#compact();
  }

  /** Everything written before write number `mark` reached the server. */
  confirm(mark: number): void {
    while (this.#first < mark && this.#writes > 0) this.#shift();
    this.#compact();
  }

  /** Empties the log and returns the messages it held, oldest first (for reporting). */
  takeAll(): SendData[] {
    const taken: SendData[] = [];
    for (let i = this.#head; i < this.#data.length; i++) {
      const write = this.#data[i] as LoggedWrite;
      if (Array.isArray(write)) for (const data of write as readonly SendData[]) taken.push(data);
      else taken.push(write as SendData);
    }
    this.#data = NO_WRITES;
    this.#head = 0;
    this.#first = this.#written;
    this.#bytes = 0;
    this.#messages = 0;
    return taken;
  }

  /** Forgets the oldest write; returns how many messages it held. */
  #shift(): number {
    const write = this.#data[this.#head] as LoggedWrite;
    const messages = countOf(write);
    this.#bytes -= sizeOfWrite(write);
    this.#messages -= messages;
    (this.#data as unknown[])[this.#head] = undefined; // release the message now, not at the next compaction
    this.#head++;
    this.#first++;
    return messages;
  }

  /** Drops the consumed prefix once it is most of the arrays, so a long-lived log does not keep growing. */
  #compact(): void {
    if (this.#head === 0) return;
    if (this.#head === this.#data.length) {
      this.#data = NO_WRITES;
      this.#head = 0;
    } else if (this.#head >= 64 && this.#head * 2 >= this.#data.length) {
      this.#data = this.#data.slice(this.#head);
      this.#head = 0;
    }
  }
}

function countOf(write: LoggedWrite): number {
  return Array.isArray(write) ? (write as readonly SendData[]).length : 1;
}

/** Bytes as `metrics.bytesOut` counts them (string length for text: no re-encoding on the hot path). */
function sizeOfWrite(write: LoggedWrite): number {
  if (!Array.isArray(write)) return sizeOf(write);
  let bytes = 0;
  for (const data of write as readonly SendData[]) bytes += sizeOf(data);
  return bytes;
}

const NO_WRITES = Object.freeze([]) as unknown as LoggedWrite[];

/**
 * Everything plain mode does to learn what the server received, for the socket that is live: the log of
 * unconfirmed writes, confirmation pings every `confirmEvery` writes (one in flight at a time), and the marks the
 * heartbeat's pings carry. The connection tells it what happens; it says what to report when the socket ends.
 */
export class ReceiptTracker {
  readonly #log: UnconfirmedLog;
  /** Writes between confirmation pings; Infinity where the transport cannot ping. */
  readonly #confirmEvery: number;
  /** The write count at which the next confirmation ping goes out. */
  #confirmAt = Infinity;
  #confirmInFlight = false;
  /**
   * Message-mode heartbeat: the write count when each unanswered ping went out, oldest first. Its pongs carry no
   * mark, so each takes the oldest: a pong that never comes makes later ones confirm less, never more.
   */
  #pongMarks: number[] | null = null;

  constructor(options: ResolvedUnconfirmed, canPing: boolean) {
    this.#log = new UnconfirmedLog(options);
    this.#confirmEvery = canPing && options.confirmEvery > 0 ? options.confirmEvery : Infinity;
  }

  /** Messages awaiting confirmation. */
  get length(): number {
    return this.#log.length;
  }

  /** Messages no longer tracked because of the limits, ever. */
  get untracked(): number {
    return this.#log.untracked;
  }

  /** A new socket is open (the last one was settled). */
  opened(): void {
    this.#confirmAt = this.#log.mark + this.#confirmEvery;
  }

  /** A user message (or a batch's messages) went out on `socket`; past `confirmEvery` writes, ask for a receipt. */
  written(socket: { ping?(data?: Uint8Array): void }, write: LoggedWrite): void {
    const log = this.#log;
    log.add(write);
    if (!this.#confirmInFlight && log.mark >= this.#confirmAt) {
      this.#confirmInFlight = true;
      socket.ping?.(encodeMark(log.mark, CONFIRM_PING));
    }
  }

  /** The payload for a heartbeat ping frame: its pong confirms what was written before it. */
  heartbeatPing(): Uint8Array {
    return encodeMark(this.#log.mark, HEARTBEAT_PING);
  }

  /** A message-mode heartbeat ping went out. Bounded: past 8 a mark is not kept (later pongs confirm less). */
  messagePingSent(): void {
    const marks = (this.#pongMarks ??= []);
    if (marks.length < 8) marks.push(this.#log.mark);
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
    const ours = data === undefined ? null : decodeMark(data);
    if (ours === null) return false;
    this.#confirm(ours.mark);
    if (ours.tag !== CONFIRM_PING) return false;
    this.#confirmInFlight = false;
    return true;
  }

  /**
   * The socket that carried the logged writes is gone. A closing handshake the client started and the server
   * answered proves receipt of all of them (its answer follows our close frame, which follows them); anything else,
   * a close the server started included, may have lost them: returns them, oldest first, to be reported.
   */
  settle(confirmedByHandshake: boolean): SendData[] {
    this.#pongMarks = null;
    this.#confirmInFlight = false;
    this.#confirmAt = Infinity;
    if (this.#log.length === 0) return [];
    const unconfirmed = this.#log.takeAll();
    return confirmedByHandshake ? [] : unconfirmed;
  }

  #confirm(mark: number): void {
    this.#log.confirm(mark);
    this.#confirmAt = mark + this.#confirmEvery;
  }
}
