import { type SendData, byteLengthOf } from '../data.js';
import { SocketchartError, counted, invalidOption } from '../errors.js';
import { skipped } from './skipped.js';
import { knownKeys } from '../validate.js';
import {
  ACK_PROTOCOL,
  MAX_SEQ,
  ackFrame,
  encodeBinary,
  encodeText,
  helloFrame,
  isSessionId,
  newSessionId,
  isDataShaped,
  parseControl,
  parseTextSeq,
  readSeq,
  BINARY_HEADER_BYTES,
  controlTypeOf,
} from './protocol.js';
import { AckBatcher, classifySeq } from './sequencing.js';
import {
  type DeliveryFactory,
  type DeliveryHost,
  type DeliveryLayer,
  type HeldMessage,
  NO_MESSAGE,
  type SessionObserver,
  type SessionSnapshot,
  shareableLayerMade,
} from './types.js';

export interface AtLeastOnceOptions {
  /**
   * Most messages held (sent but not acknowledged, or waiting for a socket).
   * @default 10000
   */
  maxMessages?: number;
  /**
   * Most payload bytes held (UTF-8 for strings).
   * @default 8388608 (8 MiB)
   */
  maxBytes?: number;
  /**
   * What `send()` does when a message does not fit: report it with a `drop` event (`queue-full`, or `too-large`
   * when it is bigger than `maxBytes` on its own) and never send it, or throw `ERR_QUEUE_FULL` so the caller
   * decides. Messages already written are never pushed out: whether they arrived is not known yet.
   * @default 'drop-newest'
   */
  overflow?: 'drop-newest' | 'reject';
  /**
   * Acknowledge after this many inbound messages...
   * @default 32
   */
  ackEvery?: number;
  /**
   * ...or this many ms after the first unacknowledged one, whichever comes first.
   * @default 20
   */
  ackDelay?: number;
}

export const AT_LEAST_ONCE_DEFAULTS = Object.freeze({
  maxMessages: 10_000,
  maxBytes: 8_388_608,
  overflow: 'drop-newest' as 'drop-newest' | 'reject',
  ackEvery: 32,
  ackDelay: 20,
});

type Resolved = Required<AtLeastOnceOptions>;

interface Entry {
  seq: number;
  /** The codec's frame of what the app sent (reported as the drop's `data`). */
  data: SendData;
  /** What goes on the wire. */
  frame: string | Uint8Array;
  bytes: number;
  /**
   * What the app passed to `send()`, only when it is not `data` (a codec other than raw): under the raw codec the
   * entry has no such field, so it costs nothing there.
   */
  message?: unknown;
}

/**
 * Acknowledged delivery (PROTOCOL.md, `socketchart.ack.v1`): every message gets a sequence number and is kept
 * until the server acknowledges it; after a reconnect the layer resumes the session and replays, in order,
 * everything not acknowledged. Inbound messages are deduplicated by sequence and acknowledged in batches. With
 * the `socketchart/server` helper on the other end, each message is processed once in each direction.
 *
 * ```ts
 * createConnection(url, { delivery: atLeastOnce() })
 * ```
 */
export function atLeastOnce(options: AtLeastOnceOptions = {}): DeliveryFactory {
  const resolved = resolveAtLeastOnce(options);
  return (host) => new AtLeastOnceLayer(host, resolved);
}

/** Every option `atLeastOnce()` takes: a key not here is refused, naming the closest one. */
const AT_LEAST_ONCE_OPTION_KEYS = ['maxMessages', 'maxBytes', 'overflow', 'ackEvery', 'ackDelay'] as const satisfies ReadonlyArray<keyof AtLeastOnceOptions>;
/** Fails to compile when AtLeastOnceOptions gains an option the list above lacks. */
const everyLayerOption: Record<Exclude<keyof AtLeastOnceOptions, (typeof AT_LEAST_ONCE_OPTION_KEYS)[number]>, never> = {};
void everyLayerOption;

function resolveAtLeastOnce(options: AtLeastOnceOptions): Resolved {
  if (typeof options !== 'object' || options === null) throw invalidOption('delivery', 'an options object for atLeastOnce()', options);
  knownKeys('delivery', options, AT_LEAST_ONCE_OPTION_KEYS);
  const d = AT_LEAST_ONCE_DEFAULTS;
  const whole = (name: keyof AtLeastOnceOptions, min: number, fallback: number, allowInfinity: boolean): number => {
    const value = options[name];
    if (value === undefined) return fallback;
    const ok = typeof value === 'number' && value >= min && (Number.isInteger(value) || (allowInfinity && value === Infinity));
    if (!ok) throw invalidOption(`delivery.${name}`, `a whole number >= ${min}${allowInfinity ? ' (or Infinity)' : ''}`, value);
    return value;
  };
  const overflow = options.overflow ?? d.overflow;
  if (overflow !== 'drop-newest' && overflow !== 'reject') throw invalidOption('delivery.overflow', "'drop-newest' or 'reject'", overflow);
  const ackDelay = options.ackDelay ?? d.ackDelay;
  if (typeof ackDelay !== 'number' || !(ackDelay >= 0) || !(ackDelay <= 2_147_483_647)) {
    throw invalidOption('delivery.ackDelay', 'a number of ms >= 0 and <= 2147483647', ackDelay);
  }
  return {
    maxMessages: whole('maxMessages', 1, d.maxMessages, true),
    maxBytes: whole('maxBytes', 1, d.maxBytes, true),
    overflow,
    ackEvery: whole('ackEvery', 1, d.ackEvery, false),
    ackDelay,
  };
}

const hasBlob = typeof Blob !== 'undefined';

function bytesOf(data: Exclude<SendData, string | Blob>): Uint8Array {
  if (data instanceof Uint8Array) return data;
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return new Uint8Array(data as ArrayBufferLike);
}

const isSeqAtLeast = (value: unknown, min: number): value is number => typeof value === 'number' && Number.isSafeInteger(value) && value >= min;

function entryOf(seq: number, data: SendData, message: unknown, bytes: number): Entry {
  const frame = typeof data === 'string' ? encodeText(seq, data) : encodeBinary(seq, bytesOf(data as Exclude<SendData, string | Blob>));
  return message === data ? { seq, data, frame, bytes } : { seq, data, frame, bytes, message };
}

class AtLeastOnceLayer implements DeliveryLayer {
  readonly protocols = [ACK_PROTOCOL] as const;
  readonly #host: DeliveryHost;
  readonly #options: Resolved;

  #sid = newSessionId();
  /** The next outbound sequence number. */
  #nextSeq = 1;
  /** Outbound messages not yet acknowledged, oldest first (`#head` is the first live slot). */
  #entries: Entry[] = [];
  #head = 0;
  #bytes = 0;
  /** A socket is open and has taken every write so far. */
  #writable = false;
  /** The seq of the next message to write on this socket (the ones before it went out, or were acknowledged). */
  #nextToWrite = 1;
  /** The highest seq written on any socket of this session: the server cannot have processed more. */
  #highestWritten = 0;
  /** The server answered this socket's `hello`: frames from here on are protocol frames. */
  #welcomed = false;
  /** The highest inbound seq delivered (in order, so everything up to it was delivered). */
  #lastIn = 0;
  /** Cumulative acks of what was delivered, batched (the same rules as the server's, src/delivery/sequencing). */
  readonly #acks: AckBatcher;
  /** A shared connection's tabs, told of every change (see `share`); null when not shared. */
  #observer: SessionObserver | null = null;
  /** Shared: a write of what `send()` added is due in a microtask (so one burst is told to the tabs at once). */
  #writeDue = false;
  /** A socket opened in this layer's life: a session taken over after that would fight its own (`adopt`). */
  #everOpened = false;
  /**
   * After `adopt`, until a welcome: the first seq this layer numbered itself (0: none pending). The tab that had the
   * session may have numbered and written more than it told (its last report can die with its page); the server
   * may have processed those seqs, and would skip a message of ours under one as a duplicate. So messages from here
   * on wait for the welcome, whose `ack` says where the server is, and move above it when it is beyond (`#welcome`).
   */
  #adoptedFrom = 0;

  constructor(host: DeliveryHost, options: Resolved) {
    this.#host = host;
    this.#options = options;
    this.#acks = new AckBatcher(host, options.ackEvery, options.ackDelay, (ack) => this.#welcomed && this.#write(ackFrame(ack)));
    shareableLayerMade(this);
  }

  get pending(): { count: number; bytes: number } {
    return { count: this.#entries.length - this.#head, bytes: this.#bytes };
  }

  send(data: SendData, message: unknown = data): void {
    if (hasBlob && data instanceof Blob) {
      throw new SocketchartError(
        'ERR_INVALID_DATA',
        'Acknowledged delivery frames messages synchronously and cannot read a Blob; send `await blob.arrayBuffer()` instead.',
      );
    }
    const bytes = byteLengthOf(data);
    const { maxMessages, maxBytes, overflow } = this.#options;
    const count = this.#entries.length - this.#head;
    if (bytes > maxBytes || count >= maxMessages || this.#bytes + bytes > maxBytes) {
      if (overflow === 'reject') {
        throw new SocketchartError(
          'ERR_QUEUE_FULL',
          `Acknowledged delivery holds ${counted(count, 'unacknowledged message')} (${counted(this.#bytes, 'byte')}); this one (${counted(bytes, 'byte')}) does not fit delivery.maxMessages / delivery.maxBytes. Wait for acknowledgements or raise the limits.`,
        );
      }
      this.#host.drop(data, bytes > maxBytes ? 'too-large' : 'queue-full', message);
      return;
    }
    if (this.#nextSeq > MAX_SEQ) {
      // 2^53 messages in one session; never in practice, but never wrap around either.
      this.#host.drop(data, 'closed', message);
      return;
    }
    const seq = this.#nextSeq++;
    this.#entries.push(entryOf(seq, data, message, bytes));
    this.#bytes += bytes;
    const observer = this.#observer;
    if (observer === null) {
      if (this.#writable) this.#writeWaiting();
      return;
    }
    observer.held(message === data ? { seq, data } : { seq, data, message });
    // Written a microtask later: the tabs hear of a whole burst in one report, and before any of it is written.
    if (this.#writeDue) return;
    this.#writeDue = true;
    queueMicrotask(() => {
      this.#writeDue = false;
      this.#observer?.flush();
      if (this.#writable) this.#writeWaiting();
    });
  }

  share(observer: SessionObserver): void {
    this.#observer = observer;
  }

  snapshot(): SessionSnapshot {
    const held: HeldMessage[] = [];
    for (let i = this.#head; i < this.#entries.length; i++) {
      const entry = this.#entries[i] as Entry;
      held.push('message' in entry ? { seq: entry.seq, data: entry.data, message: entry.message } : { seq: entry.seq, data: entry.data });
    }
    return { sid: this.#sid, next: this.#nextSeq, lastIn: this.#lastIn, held };
  }

  adopt(session: SessionSnapshot): void {
    if (this.#everOpened || this.#entries.length > this.#head) {
      throw new SocketchartError('ERR_INVALID_OPTION', 'adopt() takes a session over only before the first socket and while the layer holds no messages.');
    }
    const { sid, next, lastIn, held } = session;
    const consecutive = held.every((h, i) => h.seq === (held[0] as HeldMessage).seq + i) && (held.length === 0 || (held.at(-1) as HeldMessage).seq < next);
    if (!isSessionId(sid) || !isSeqAtLeast(next, 1) || !isSeqAtLeast(lastIn, 0) || !consecutive) {
      throw new SocketchartError('ERR_INVALID_DATA', 'adopt() takes a session as snapshot() gives it (a session id, next >= 1, lastIn >= 0, held messages numbered consecutively below next).');
    }
    this.#sid = sid;
    this.#nextSeq = next;
    this.#lastIn = lastIn;
    this.#acks.reset(lastIn);
    this.#entries = held.map((h) => entryOf(h.seq, h.data, 'message' in h ? h.message : h.data, byteLengthOf(h.data)));
    this.#head = 0;
    this.#bytes = this.#entries.reduce((sum, entry) => sum + entry.bytes, 0);
    // The tab that had the session may have written everything it numbered: the server may acknowledge up to there.
    this.#highestWritten = next - 1;
    this.#nextToWrite = held.length > 0 ? (held[0] as HeldMessage).seq : next;
    this.#adoptedFrom = next;
  }

  resume(): void {
    if (this.#writable) this.#writeWaiting();
  }

  /** Writes the messages not yet on this socket, in order, while the connection's flow limits allow. */
  #writeWaiting(): void {
    this.#observer?.flush();
    const entries = this.#entries;
    const first = entries[this.#head] as Entry | undefined;
    if (first === undefined) {
      this.#nextToWrite = this.#nextSeq;
      return;
    }
    // Acknowledged ones need no writing; seqs are consecutive from #head on, so the next one sits at a known index.
    if (this.#nextToWrite < first.seq) this.#nextToWrite = first.seq;
    for (let i = this.#head + (this.#nextToWrite - first.seq); i < entries.length; i++) {
      if (this.#adoptedFrom > 0 && (entries[i] as Entry).seq >= this.#adoptedFrom) return; // until the welcome
      if (!this.#host.mayWrite()) {
        this.#host.waitToWrite();
        return;
      }
      if (!this.#write((entries[i] as Entry).frame)) return;
      if (this.#nextToWrite > this.#highestWritten) this.#highestWritten = this.#nextToWrite;
      this.#nextToWrite++;
    }
  }

  opened(): void {
    this.#writable = true;
    this.#everOpened = true;
    this.#welcomed = false;
    this.#acks.reset(this.#lastIn);
    const oldest = this.#entries.length > this.#head ? (this.#entries[this.#head] as Entry).seq : this.#nextSeq;
    if (!this.#write(helloFrame(this.#sid, this.#lastIn, oldest))) return;
    // Everything not acknowledged, in order (as the flow limits allow); the server drops what it already processed.
    this.#nextToWrite = oldest;
    this.#writeWaiting();
  }

  inbound(frame: unknown): unknown {
    if (typeof frame === 'string') {
      const data = parseTextSeq(frame);
      if (data !== null && this.#welcomed) return this.#sequenced(data.seq, frame) ? frame.slice(data.start) : NO_MESSAGE;
      // Shaped like a data message but malformed (`01:x`, `1.5:x`, a seq above 2^53 - 1): skipped like a binary one
      // with a bad header, never handed to the app as an unsequenced message that no seq dedupes.
      if (this.#welcomed && isDataShaped(frame)) {
        this.#invalid(frame, skipped.malformedText());
        return NO_MESSAGE;
      }
      const control = parseControl(frame);
      if (control === null) return frame; // an unsequenced app frame (pong, auth reply, a server that is not ours)
      const type = control === 'invalid' ? controlTypeOf(frame) : control.type;
      if (type === 'hello') {
        this.#invalid(frame, skipped.serverHello());
      } else if (control === 'invalid') {
        this.#invalid(frame, skipped.malformedControl(type));
      } else if (control.type === 'welcome') this.#welcome(frame, control.sid, control.resumed, control.ack, control.next);
      else if (control.type === 'ack') this.#acked(control.ack, frame, 'ack');
      return NO_MESSAGE;
    }
    if (!this.#welcomed) return frame;
    if (ArrayBuffer.isView(frame)) {
      const view = frame instanceof Uint8Array ? frame : new Uint8Array(frame.buffer, frame.byteOffset, frame.byteLength);
      const seq = readSeq(view);
      if (seq < 0) return this.#badHeader(frame, view.byteLength);
      if (!this.#sequenced(seq, frame)) return NO_MESSAGE;
      return view.subarray(BINARY_HEADER_BYTES); // a Buffer stays a Buffer
    }
    if (frame instanceof ArrayBuffer) {
      const seq = readSeq(new Uint8Array(frame));
      if (seq < 0) return this.#badHeader(frame, frame.byteLength);
      if (!this.#sequenced(seq, frame)) return NO_MESSAGE;
      return frame.slice(BINARY_HEADER_BYTES);
    }
    // The connection opens sockets with binaryType 'arraybuffer' under a layer; only a transport that ignores it gets here.
    this.#invalid(frame, skipped.notBinary(hasBlob && frame instanceof Blob));
    return NO_MESSAGE;
  }

  /** A binary frame whose 8-byte header is missing or holds no valid seq: reported and skipped. */
  #badHeader(frame: unknown, bytes: number): typeof NO_MESSAGE {
    this.#invalid(frame, skipped.malformedBinary(bytes));
    return NO_MESSAGE;
  }

  #invalid(frame: unknown, problem: string): void {
    this.#host.invalid?.(frame, problem);
  }

  lost(): void {
    this.#writable = false;
    this.#welcomed = false;
    this.#acks.cancel();
  }

  ended(): void {
    this.lost();
    const entries = this.#entries;
    const head = this.#head;
    this.#entries = [];
    this.#head = 0;
    this.#bytes = 0;
    // A new session next time: the server forgets this one when its TTL runs out.
    this.#sid = newSessionId();
    this.#nextSeq = 1;
    this.#nextToWrite = 1;
    this.#highestWritten = 0;
    this.#adoptedFrom = 0;
    this.#lastIn = 0;
    this.#acks.reset(0);
    this.#observer?.restarted({ sid: this.#sid, next: 1, lastIn: 0 });
    for (let i = head; i < entries.length; i++) {
      const entry = entries[i] as Entry;
      this.#host.drop(entry.data, 'closed', 'message' in entry ? entry.message : entry.data);
    }
  }

  /**
   * Whether the inbound data frame `seq` is the next one (deliver it); duplicates and gaps are not delivered. A gap
   * is reported; a duplicate is not: replays after a resume are how the protocol recovers.
   */
  #sequenced(seq: number, frame: unknown): boolean {
    const verdict = classifySeq(seq, this.#lastIn);
    if (verdict === 'next') {
      this.#lastIn = seq;
      this.#acks.advance(seq);
      this.#observer?.delivered(seq);
      return true;
    }
    // A replay of something delivered: the server missed our ack, so tell it again.
    if (verdict === 'duplicate') this.#acks.duplicate();
    else {
      // A gap: a conforming server never sends one (it replays from our `hello.ack`); nothing is delivered out of order.
      this.#invalid(frame, skipped.gap(typeof frame === 'string', seq, this.#lastIn + 1));
    }
    return false;
  }

  #welcome(frame: string, sid: string, resumed: boolean, ack: number, next: number): void {
    // A socket the layer gave up writing on is ending: its welcome no longer matters, and the server is not at fault.
    if (!this.#writable) return;
    if (sid !== this.#sid) {
      return this.#invalid(frame, skipped.otherSession());
    }
    if (this.#welcomed) {
      // Applied, a second `resumed: false` would move the delivered mark back: messages delivered twice on one socket.
      return this.#invalid(frame, skipped.secondWelcome());
    }
    this.#welcomed = true;
    // A new server session numbers its messages from `next` on; a resumed one replays from our `hello.ack`.
    this.#lastIn = resumed ? Math.max(this.#lastIn, next - 1) : next - 1;
    this.#acks.reset(this.#lastIn);
    // A new server session numbers its messages afresh: the tabs' marks of what they delivered start over too.
    if (!resumed) this.#observer?.restarted({ sid, next: this.#nextSeq, lastIn: this.#lastIn });
    const adoptedFrom = this.#adoptedFrom;
    if (adoptedFrom === 0) return this.#acked(ack, frame, 'welcome');
    this.#adoptedFrom = 0;
    // An adopted session the server processed more of than the tabs knew: those seqs were the old leader's (its tab
    // reported nothing, or is gone). Ours, none written yet, move above them; nothing unsent is forgotten, so an ack
    // beyond what any tab wrote costs no message here, unlike a single tab's (see #acked).
    // (Unless numbering would pass 2^53 - 1: then it is ignored as a single tab ignores it.)
    if (resumed && ack >= adoptedFrom && ack + (this.#nextSeq - adoptedFrom) <= MAX_SEQ) {
      this.#renumber(adoptedFrom, ack + 1 - adoptedFrom);
      this.#highestWritten = ack;
    }
    this.#acked(ack, frame, 'welcome');
    this.#writeWaiting();
  }

  /** Moves every message numbered `from` or later up by `by` (none of them written yet), telling the tabs first. */
  #renumber(from: number, by: number): void {
    this.#observer?.renumbered(from, by);
    const entries = this.#entries;
    for (let i = this.#head; i < entries.length; i++) {
      const entry = entries[i] as Entry;
      if (entry.seq >= from) entries[i] = entryOf(entry.seq + by, entry.data, 'message' in entry ? entry.message : entry.data, entry.bytes);
    }
    this.#nextSeq += by;
    if (this.#nextToWrite >= from) this.#nextToWrite += by;
  }

  /**
   * The server processed everything up to `ack`. An ack beyond the last message ever written in this session is a
   * broken or lying server: it is ignored, so nothing unsent is forgotten (it stays held and is sent), and reported.
   * `frame`: the ack or welcome frame that carried it.
   */
  #acked(ack: number, frame: string, kind: 'ack' | 'welcome'): void {
    const entries = this.#entries;
    if (ack > this.#highestWritten) {
      return this.#invalid(frame, skipped.ackBeyond(kind, ack, this.#highestWritten));
    }
    let trimmed = false;
    while (this.#head < entries.length && (entries[this.#head] as Entry).seq <= ack) {
      trimmed = true;
      this.#bytes -= (entries[this.#head] as Entry).bytes;
      entries[this.#head] = undefined as unknown as Entry;
      this.#head++;
    }
    if (this.#head === entries.length) {
      entries.length = 0;
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > entries.length) {
      this.#entries = entries.slice(this.#head);
      this.#head = 0;
    }
    if (trimmed) this.#observer?.acked(ack);
  }

  #write(frame: string | Uint8Array): boolean {
    if (!this.#writable) return false;
    if (this.#host.write(frame)) return true;
    // The socket is past OPEN before the connection knows: keep everything for the next one.
    this.#writable = false;
    this.#welcomed = false;
    this.#acks.cancel();
    return false;
  }
}
