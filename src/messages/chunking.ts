import { SocketchartError, describe } from '../errors.js';
import { utf8Length } from '../data.js';

/**
 * Splitting messages bigger than a frame limit, and putting them back together. Text is split into JSON
 * envelopes `{"$chunk":id,"i":index,"n":count,"d":text}`; binary into frames with a 12-byte header (magic 0x5343
 * "SC", version 1, flags, id u32, index u16, count u16). Both ends need these helpers (or the same format).
 */
export interface ChunkingOptions {
  /**
   * Largest frame in bytes; messages above it are split.
   * @default 65536
   */
  chunkSize?: number;
  /**
   * Largest message the reassembler accepts, in bytes.
   * @default 16777216
   */
  maxMessageBytes?: number;
}

const MAGIC = 0x5343;
const HEADER = 12;

export function splitMessage(data: string | Uint8Array, id: number, chunkSize: number): Array<string | Uint8Array> {
  if (typeof data !== 'string' && !(data instanceof Uint8Array)) {
    throw new SocketchartError('ERR_INVALID_DATA', `splitMessage takes a string or a Uint8Array; got ${describe(data)}.`);
  }
  if (!Number.isInteger(chunkSize) || chunkSize < 128) {
    throw new SocketchartError('ERR_INVALID_OPTION', `chunkSize must be a whole number >= 128; got ${describe(chunkSize)}.`);
  }
  if (!Number.isInteger(id) || id < 0) throw new SocketchartError('ERR_INVALID_OPTION', `The chunk id must be a whole number >= 0; got ${describe(id)}.`);
  if (typeof data === 'string') {
    if (utf8Length(data) <= chunkSize) return [data];
    // A UTF-16 unit takes at most 6 bytes inside the JSON envelope (a control character escapes to \u00XX), and
    // the envelope itself under 64: pieces of this many units always fit.
    return splitText(data, id, Math.max(1, Math.floor((chunkSize - 64) / 6)));
  }
  if (data.byteLength <= chunkSize) return [data];
  const body = chunkSize - HEADER;
  if (body < 1) throw new SocketchartError('ERR_INVALID_OPTION', `chunkSize must exceed ${HEADER} bytes for binary chunks.`);
  const count = Math.ceil(data.byteLength / body);
  if (count > 0xffff) throw new SocketchartError('ERR_MESSAGE_TOO_LARGE', `The message needs ${count} chunks; at most 65535 fit. Raise chunkSize.`);
  const frames: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    const piece = data.subarray(i * body, Math.min(data.byteLength, (i + 1) * body));
    const frame = new Uint8Array(HEADER + piece.byteLength);
    const view = new DataView(frame.buffer);
    view.setUint16(0, MAGIC);
    view.setUint8(2, 1);
    view.setUint32(4, id >>> 0);
    view.setUint16(8, i);
    view.setUint16(10, count);
    frame.set(piece, HEADER);
    frames.push(frame);
  }
  return frames;
}

function splitText(data: string, id: number, step: number): string[] {
  const pieces: string[] = [];
  let start = 0;
  while (start < data.length) {
    let end = Math.min(data.length, start + step);
    if (end < data.length && data.charCodeAt(end - 1) >= 0xd800 && data.charCodeAt(end - 1) <= 0xdbff) end--;
    pieces.push(data.slice(start, end));
    start = end;
  }
  return pieces.map((d, i) => JSON.stringify({ $chunk: id, i, n: pieces.length, d }));
}

interface Partial {
  parts: Array<string | Uint8Array | undefined>;
  count: number;
  received: number;
  bytes: number;
}

/** What a Reassembler threw away without delivering: one entry per discarded message. */
export interface DiscardedChunks {
  /** The chunk id the sender gave the message (text and binary ids are separate spaces). */
  id: number;
  binary: boolean;
  /** Bytes of it that had arrived (UTF-8 bytes for text). */
  bytes: number;
  /** ERR_MESSAGE_TOO_LARGE, ERR_MESSAGE_INCOMPLETE or ERR_INVALID_CHUNK, with a message saying why. */
  error: SocketchartError;
}

export interface ReassemblerLimits {
  /**
   * Most messages in progress at once; the chunk of one more discards the oldest (reported).
   * @default 16
   */
  maxIncomplete?: number;
  /**
   * Most chunks held at once, all messages in progress together; the chunk of one more discards its message
   * (`ERR_MESSAGE_TOO_LARGE`). Bytes alone do not bound memory: a held chunk costs about 200 bytes of bookkeeping
   * whatever its size, so 1-byte chunks under a 16 MiB byte cap could hold about 200 MB. The default is as many as
   * one message may have, so any single message fits.
   * @default 65535
   */
  maxChunks?: number;
  /**
   * Told about each message in progress thrown away that no accept() call reports: evicted by `maxIncomplete`,
   * or cut off by reset(). (A message that accept() kills is reported by the error it throws.)
   */
  onDiscard?: (discarded: DiscardedChunks) => void;
}

/** Messages in progress at once, by default: a sender interleaves a few, never hundreds. */
export const MAX_INCOMPLETE = 16;

/** Chunks held at once, by default: the most one message can have (the count is a u16). */
export const MAX_HELD_CHUNKS = 0xffff;

/**
 * Collects chunks and returns each message once all its chunks arrived; other frames pass through.
 *
 * Bounded: one message may reach `maxMessageBytes`, and so may all messages in progress together (a chunk that
 * would go past either discards its message, and accept() throws), which hold at most `maxChunks` chunks together
 * (the same); at most `maxIncomplete` are in progress (one more evicts the oldest, reported to `onDiscard`). A
 * repeated chunk is refused (accept() throws) and its message goes on. Bytes are counted as they travel (UTF-8 for text). One
 * Reassembler serves one socket: call `reset()` when it ends, since chunk ids are the sender's and restart per
 * socket.
 */
export class Reassembler {
  readonly #maxBytes: number;
  readonly #maxIncomplete: number;
  readonly #maxChunks: number;
  readonly #onDiscard: ((discarded: DiscardedChunks) => void) | undefined;
  /** In arrival order of each message's first chunk (a Map keeps insertion order): the oldest is first. */
  #partial = new Map<string, Partial>();
  #heldBytes = 0;
  #heldChunks = 0;

  constructor(maxMessageBytes = 16_777_216, limits: ReassemblerLimits = {}) {
    if (!Number.isInteger(maxMessageBytes) || maxMessageBytes < 1) {
      throw new SocketchartError('ERR_INVALID_OPTION', `maxMessageBytes must be a whole number >= 1; got ${describe(maxMessageBytes)}.`);
    }
    const maxIncomplete = limits.maxIncomplete ?? MAX_INCOMPLETE;
    if (!Number.isInteger(maxIncomplete) || maxIncomplete < 1) {
      throw new SocketchartError('ERR_INVALID_OPTION', `maxIncomplete must be a whole number >= 1; got ${describe(maxIncomplete)}.`);
    }
    const maxChunks = limits.maxChunks ?? MAX_HELD_CHUNKS;
    if (!Number.isInteger(maxChunks) || maxChunks < 1) {
      throw new SocketchartError('ERR_INVALID_OPTION', `maxChunks must be a whole number >= 1; got ${describe(maxChunks)}.`);
    }
    this.#maxBytes = maxMessageBytes;
    this.#maxIncomplete = maxIncomplete;
    this.#maxChunks = maxChunks;
    this.#onDiscard = limits.onDiscard;
  }

  /**
   * The frame itself if it is not a chunk, the whole message when this chunk completes one, else undefined.
   * Throws ERR_INVALID_CHUNK for a frame shaped like a chunk whose fields are not valid or that repeats one already
   * held (the message goes on without it), and ERR_MESSAGE_TOO_LARGE when a message outgrows the limits (the
   * message is gone).
   */
  accept(frame: unknown): unknown {
    const chunk = parseChunk(frame);
    if (chunk === null) return frame;
    const key = `${chunk.binary ? 'b' : 't'}${chunk.id}`;
    let partial = this.#partial.get(key);
    if (partial !== undefined && partial.count !== chunk.count) {
      this.#forget(key);
      throw new SocketchartError('ERR_INVALID_CHUNK', `Chunk ${chunk.index} of message ${chunk.id} says ${chunk.count} chunks where earlier ones said ${partial.count}; the message (${partial.bytes} bytes so far) was discarded.`);
    }
    const size = typeof chunk.data === 'string' ? utf8Length(chunk.data) : chunk.data.byteLength;
    if (partial === undefined) {
      // A message of one chunk: nothing to hold, but the size cap still applies.
      if (chunk.count === 1) return size > this.#maxBytes ? this.#refuse(chunk, size) : chunk.data;
      if (this.#partial.size >= this.#maxIncomplete) {
        const oldest = this.#partial.keys().next().value as string;
        this.#discard(oldest, new SocketchartError('ERR_MESSAGE_INCOMPLETE', `More than ${this.#maxIncomplete} chunked messages were in progress at once; the oldest was discarded.`));
      }
      partial = { parts: new Array(chunk.count), count: chunk.count, received: 0, bytes: 0 };
      this.#partial.set(key, partial);
    }
    // A repeated chunk (same index) is refused, and reported like every frame thrown away; the first copy stands
    // and its message goes on.
    if (partial.parts[chunk.index] !== undefined) {
      throw new SocketchartError(
        'ERR_INVALID_CHUNK',
        `Chunk ${chunk.index} of message ${chunk.id} arrived twice; the repeat was discarded (the first copy stands, the message goes on).`,
      );
    }
    // A chunk that completes its message is never held: only one that would stay is refused.
    if (this.#heldChunks >= this.#maxChunks && partial.received + 1 < chunk.count) {
      this.#forget(key);
      throw new SocketchartError(
        'ERR_MESSAGE_TOO_LARGE',
        `Chunked messages in progress together held ${this.#maxChunks} chunks; the message of this one (${chunk.id}) was discarded. Send bigger chunks.`,
      );
    }
    if (partial.bytes + size > this.#maxBytes || this.#heldBytes + size > this.#maxBytes) {
      const whole = partial.bytes + size > this.#maxBytes;
      const error = new SocketchartError(
        'ERR_MESSAGE_TOO_LARGE',
        whole
          ? `A chunked message exceeded ${this.#maxBytes} bytes; raise chunking.maxMessageBytes.`
          : `Chunked messages in progress together exceeded ${this.#maxBytes} bytes; raise chunking.maxMessageBytes.`,
      );
      this.#forget(key);
      throw error;
    }
    partial.parts[chunk.index] = chunk.data;
    partial.received++;
    partial.bytes += size;
    this.#heldBytes += size;
    this.#heldChunks++;
    if (partial.received < chunk.count) return undefined;
    this.#partial.delete(key);
    this.#heldBytes -= partial.bytes;
    this.#heldChunks -= partial.received;
    if (!chunk.binary) return (partial.parts as string[]).join('');
    const whole = new Uint8Array(partial.bytes);
    let offset = 0;
    for (const part of partial.parts as Uint8Array[]) {
      whole.set(part, offset);
      offset += part.byteLength;
    }
    return whole;
  }

  #refuse(chunk: Chunk, size: number): never {
    throw new SocketchartError('ERR_MESSAGE_TOO_LARGE', `A chunked message of ${size} bytes exceeded ${this.#maxBytes}; raise chunking.maxMessageBytes.`);
  }

  /** Drops a message in progress; the caller reports it (by throwing). */
  #forget(key: string): Partial | undefined {
    const partial = this.#partial.get(key);
    if (partial === undefined) return undefined;
    this.#partial.delete(key);
    this.#heldBytes -= partial.bytes;
    this.#heldChunks -= partial.received;
    return partial;
  }

  /** Drops a message in progress that no accept() call will report: `onDiscard` hears of it. */
  #discard(key: string, error: SocketchartError): void {
    const partial = this.#forget(key);
    if (partial !== undefined) this.#onDiscard?.({ id: Number(key.slice(1)), binary: key[0] === 'b', bytes: partial.bytes, error });
  }

  /** The socket ended: every message in progress is discarded (and reported); returns how many. */
  reset(): number {
    const count = this.#partial.size;
    for (const key of [...this.#partial.keys()]) {
      this.#discard(key, new SocketchartError('ERR_MESSAGE_INCOMPLETE', 'The socket ended before every chunk of a message arrived; the part received was discarded.'));
    }
    return count;
  }

  /** Messages still incomplete. */
  get incomplete(): number {
    return this.#partial.size;
  }

  /** Bytes held for incomplete messages. */
  get heldBytes(): number {
    return this.#heldBytes;
  }

  /** Chunks held for incomplete messages. */
  get heldChunks(): number {
    return this.#heldChunks;
  }
}

interface Chunk {
  id: number;
  index: number;
  count: number;
  data: string | Uint8Array;
  binary: boolean;
}

const TEXT_PREFIX = '{"$chunk":';

/** null for a frame that is not a chunk; throws ERR_INVALID_CHUNK for one shaped like a chunk with bad fields. */
function parseChunk(frame: unknown): Chunk | null {
  if (typeof frame === 'string') {
    if (!frame.startsWith(TEXT_PREFIX)) return null;
    let c: unknown;
    try {
      c = JSON.parse(frame);
    } catch {
      throw invalidChunk('it is not valid JSON');
    }
    const { $chunk: id, i: index, n: count, d: data } = (c ?? {}) as Record<string, unknown>;
    if (!isId(id)) throw invalidChunk(`"$chunk" must be a whole number in [0, 2^32); got ${describe(id)}`);
    checkPosition(index, count);
    if (typeof data !== 'string') throw invalidChunk(`"d" must be a string; got ${describe(data)}`);
    return { id: id as number, index: index as number, count: count as number, data, binary: false };
  }
  const bytes = frame instanceof ArrayBuffer ? new Uint8Array(frame) : ArrayBuffer.isView(frame) ? new Uint8Array(frame.buffer, frame.byteOffset, frame.byteLength) : null;
  if (bytes === null || bytes.byteLength < HEADER) return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint16(0) !== MAGIC || view.getUint8(2) !== 1) return null;
  const index = view.getUint16(8);
  const count = view.getUint16(10);
  checkPosition(index, count);
  return { id: view.getUint32(4), index, count, data: bytes.slice(HEADER), binary: true };
}

function isId(value: unknown): boolean {
  return Number.isInteger(value) && (value as number) >= 0 && (value as number) <= 0xffffffff;
}

function checkPosition(index: unknown, count: unknown): void {
  if (!Number.isInteger(count) || (count as number) < 1 || (count as number) > 0xffff) {
    throw invalidChunk(`"n" (the chunk count) must be a whole number in [1, 65535]; got ${describe(count)}`);
  }
  if (!Number.isInteger(index) || (index as number) < 0 || (index as number) >= (count as number)) {
    throw invalidChunk(`"i" (the chunk index) must be a whole number in [0, ${count as number}); got ${describe(index)}`);
  }
}

function invalidChunk(why: string): SocketchartError {
  return new SocketchartError('ERR_INVALID_CHUNK', `A frame shaped like a chunk is not valid: ${why}. It was discarded.`);
}
