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
  received: number;
  bytes: number;
}

/** Collects chunks and returns each message once all its chunks arrived; other frames pass through. */
export class Reassembler {
  readonly #maxBytes: number;
  #partial = new Map<string, Partial>();

  constructor(maxMessageBytes = 16_777_216) {
    if (!Number.isInteger(maxMessageBytes) || maxMessageBytes < 1) {
      throw new SocketchartError('ERR_INVALID_OPTION', `maxMessageBytes must be a whole number >= 1; got ${describe(maxMessageBytes)}.`);
    }
    this.#maxBytes = maxMessageBytes;
  }

  /** The frame itself if it is not a chunk, the whole message when this chunk completes one, else undefined. */
  accept(frame: unknown): unknown {
    const chunk = parseChunk(frame);
    if (chunk === null) return frame;
    const key = `${chunk.binary ? 'b' : 't'}${chunk.id}`;
    let partial = this.#partial.get(key);
    if (!partial) {
      partial = { parts: new Array(chunk.count), received: 0, bytes: 0 };
      this.#partial.set(key, partial);
    }
    if (partial.parts[chunk.index] === undefined) {
      partial.parts[chunk.index] = chunk.data;
      partial.received++;
      partial.bytes += typeof chunk.data === 'string' ? chunk.data.length : chunk.data.byteLength;
    }
    if (partial.bytes > this.#maxBytes) {
      this.#partial.delete(key);
      throw new SocketchartError('ERR_MESSAGE_TOO_LARGE', `A chunked message exceeded ${this.#maxBytes} bytes; raise maxMessageBytes.`);
    }
    if (partial.received < chunk.count) return undefined;
    this.#partial.delete(key);
    if (!chunk.binary) return (partial.parts as string[]).join('');
    const whole = new Uint8Array(partial.bytes);
    let offset = 0;
    for (const part of partial.parts as Uint8Array[]) {
      whole.set(part, offset);
      offset += part.byteLength;
    }
    return whole;
  }

  /** Messages still incomplete. */
  get incomplete(): number {
    return this.#partial.size;
  }
}

function parseChunk(frame: unknown): { id: number; index: number; count: number; data: string | Uint8Array; binary: boolean } | null {
  if (typeof frame === 'string') {
    if (!frame.startsWith('{"$chunk":')) return null;
    try {
      const c = JSON.parse(frame) as { $chunk: number; i: number; n: number; d: string };
      return { id: c.$chunk, index: c.i, count: c.n, data: c.d, binary: false };
    } catch {
      return null;
    }
  }
  const bytes = frame instanceof ArrayBuffer ? new Uint8Array(frame) : ArrayBuffer.isView(frame) ? new Uint8Array(frame.buffer, frame.byteOffset, frame.byteLength) : null;
  if (bytes === null || bytes.byteLength < HEADER) return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint16(0) !== MAGIC || view.getUint8(2) !== 1) return null;
  return { id: view.getUint32(4), index: view.getUint16(8), count: view.getUint16(10), data: bytes.slice(HEADER), binary: true };
}
