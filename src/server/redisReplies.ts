/**
 * What the Redis session store (redis.ts) writes into Redis and reads back: payloads stored with a one-byte kind
 * prefix, and the scripts' replies (numbers, `seq, payload` pairs, gaps, refusals) decoded into the store's types.
 */
import type { SessionGap, UnackedMessage } from './store.js';

const TEXT = 0x74; // 't'
const BINARY = 0x62; // 'b'

export function encodePayload(payload: string | Uint8Array): Buffer {
  if (typeof payload === 'string') {
    const out = Buffer.allocUnsafe(1 + Buffer.byteLength(payload));
    out[0] = TEXT;
    out.write(payload, 1);
    return out;
  }
  const out = Buffer.allocUnsafe(1 + payload.byteLength);
  out[0] = BINARY;
  out.set(payload, 1);
  return out;
}

export function decodePayload(stored: unknown): string | Uint8Array {
  const buf = Buffer.isBuffer(stored) ? stored : Buffer.from(String(stored));
  if (buf[0] === TEXT) return buf.toString('utf8', 1);
  return new Uint8Array(buf.subarray(1));
}

export const asNumber = (value: unknown): number => (typeof value === 'number' ? value : Number(Buffer.isBuffer(value) ? value.toString() : value));

export const pairs = (reply: unknown[], from: number): UnackedMessage[] => {
  const out: UnackedMessage[] = [];
  for (let i = from; i + 1 < reply.length; i += 2) out.push({ seq: asNumber(reply[i]), payload: decodePayload(reply[i + 1]) });
  return out;
};

/** A GAP reply (status -5): the lost seqs, then what is left. */
export const gapOf = (reply: unknown[]): SessionGap => {
  const count = asNumber(reply[1]);
  return { gap: reply.slice(2, 2 + count).map(asNumber), held: pairs(reply, 2 + count) };
};

/** A script's refusal: -1 a later claim owns the session, -2 the session is gone (expired, removed). */
export const verdict = (status: number): 'stale' | 'missing' => (status === -2 ? 'missing' : 'stale');
