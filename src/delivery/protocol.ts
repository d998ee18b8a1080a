/**
 * The `socketchart.ack.v1` wire format (PROTOCOL.md), shared by the client layer and the server helper.
 * Browser-safe: no Node built-ins.
 */

/** The subprotocol both ends negotiate. */
export const ACK_PROTOCOL = 'socketchart.ack.v1';

/** Close codes the protocol uses (PROTOCOL.md, "Errors and close codes"). */
export const ACK_CLOSE_CODES = Object.freeze({
  /** A malformed protocol frame, a data frame before `hello`, an unsupported version: do not retry. */
  protocolError: 1002,
  /**
   * The server refused the socket by policy: `sessionKey()` threw, or the client does not read what it asked for
   * (unanswered pongs piling up). Not retried by default.
   */
  policyViolation: 1008,
  /** The server could not load or store the session (store failure): retry. */
  serverError: 1011,
  /**
   * The server is at a bound that is not the client's fault: too many sessions or sockets waiting for `hello`, no
   * `hello` (or no session loaded) within `helloTimeout`, a slow store with too many frames waiting. Retry later.
   */
  tryAgainLater: 1013,
  /** Another socket resumed this session (the newest wins); this one is stale. */
  sessionTakenOver: 4408,
  /** A data frame skipped a sequence number; reconnect and replay. */
  sequenceGap: 4409,
});

/** The largest sequence number (2^53 - 1): both ends stop the session before it would overflow. */
export const MAX_SEQ = Number.MAX_SAFE_INTEGER;

/** Bytes of the header in front of a binary data frame's payload (an unsigned 64-bit big-endian seq). */
export const BINARY_HEADER_BYTES = 8;

const SESSION_ID = /^[A-Za-z0-9_-]{16,128}$/;

export function isSessionId(value: unknown): value is string {
  return typeof value === 'string' && SESSION_ID.test(value);
}

/** 128 random bits, base64url (22 characters). */
export function newSessionId(): string {
  const bytes = new Uint8Array(16);
  globalThis.crypto.getRandomValues(bytes);
  let text = '';
  for (const byte of bytes) text += String.fromCharCode(byte);
  return btoa(text).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

export function isSeq(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/** `<seq>:<payload>` */
export function encodeText(seq: number, payload: string): string {
  return `${seq}:${payload}`;
}

/** The 8-byte big-endian seq followed by the payload, in one new buffer. */
export function encodeBinary(seq: number, payload: Uint8Array): Uint8Array {
  const frame = new Uint8Array(BINARY_HEADER_BYTES + payload.byteLength);
  writeSeq(frame, seq);
  frame.set(payload, BINARY_HEADER_BYTES);
  return frame;
}

export function writeSeq(target: Uint8Array, seq: number): void {
  const view = new DataView(target.buffer, target.byteOffset, BINARY_HEADER_BYTES);
  view.setUint32(0, Math.floor(seq / 0x1_0000_0000));
  view.setUint32(4, seq >>> 0);
}

/** The seq of a binary data frame, or -1 when it is too short or the seq is out of range. */
export function readSeq(frame: Uint8Array): number {
  if (frame.byteLength < BINARY_HEADER_BYTES) return -1;
  const view = new DataView(frame.buffer, frame.byteOffset, BINARY_HEADER_BYTES);
  const seq = view.getUint32(0) * 0x1_0000_0000 + view.getUint32(4);
  return seq >= 1 && seq <= MAX_SEQ ? seq : -1;
}

/**
 * The seq of a text data frame (`<seq>:<payload>`, seq in 1..2^53-1 without leading zeros) and the index where its
 * payload starts; null when the frame is not a data frame.
 */
export function parseTextSeq(frame: string): { seq: number; start: number } | null {
  const first = frame.charCodeAt(0);
  if (!(first >= 49 && first <= 57)) return null; // 1-9
  let seq = first - 48;
  for (let i = 1; i < 17 && i < frame.length; i++) {
    const c = frame.charCodeAt(i);
    if (c === 58) return seq <= MAX_SEQ ? { seq, start: i + 1 } : null; // ':'
    if (c < 48 || c > 57) return null;
    seq = seq * 10 + (c - 48);
  }
  return null;
}

/**
 * Whether a text frame is shaped like a data frame: it starts with a digit, a sign or a dot. Such a frame is a data
 * frame or a protocol error (`01:x`, `-1:x`, `1.5:x`, `0:x`, a number above 2^53 - 1), never an unsequenced app
 * frame: the text encoding is as strict as the binary one, whose every frame is a data frame.
 */
export function isDataShaped(frame: string): boolean {
  const c = frame.charCodeAt(0);
  return (c >= 48 && c <= 57) || c === 43 || c === 45 || c === 46; // 0-9 + - .
}

/**
 * Close codes an endpoint may put on the wire (RFC 6455 7.4): 1000-1003, 1007-1014 and 3000-4999. 1004-1006 and
 * 1015 are reserved and never sent.
 */
export function isSendableCloseCode(code: unknown): code is number {
  return (
    typeof code === 'number' &&
    Number.isInteger(code) &&
    ((code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999))
  );
}

export type ControlFrame =
  | { type: 'hello'; sid: string; ack: number; next: number }
  | { type: 'welcome'; sid: string; resumed: boolean; ack: number; next: number }
  | { type: 'ack'; ack: number };

/** The protocol's own control types; any other `{"type": ...}` text frame is an unsequenced app frame. */
export const CONTROL_TYPES: ReadonlySet<string> = new Set(['hello', 'welcome', 'ack']);

/**
 * A text frame read as a control frame: the frame when it is a valid one, `'invalid'` when it claims a control
 * type but is malformed, null when it is not a control frame at all (an unsequenced app frame).
 */
export function parseControl(frame: string): ControlFrame | 'invalid' | null {
  if (frame.charCodeAt(0) !== 123) return null; // '{'
  let value: unknown;
  try {
    value = JSON.parse(frame);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null) return null;
  const v = value as Record<string, unknown>;
  if (typeof v.type !== 'string' || !CONTROL_TYPES.has(v.type)) return null;
  switch (v.type) {
    case 'ack':
      return isSeq(v.ack) ? { type: 'ack', ack: v.ack } : 'invalid';
    case 'hello':
      return isSessionId(v.sid) && isSeq(v.ack) && isSeq(v.next) && v.next >= 1
        ? { type: 'hello', sid: v.sid, ack: v.ack, next: v.next }
        : 'invalid';
    default:
      return isSessionId(v.sid) && typeof v.resumed === 'boolean' && isSeq(v.ack) && isSeq(v.next) && v.next >= 1
        ? { type: 'welcome', sid: v.sid, resumed: v.resumed, ack: v.ack, next: v.next }
        : 'invalid';
  }
}

/** The `type` of a frame `parseControl` found `'invalid'` (one of CONTROL_TYPES), to name it in a report. */
export function controlTypeOf(frame: string): string {
  return (JSON.parse(frame) as { type: string }).type;
}

export const helloFrame = (sid: string, ack: number, next: number): string =>
  `{"type":"hello","sid":"${sid}","ack":${ack},"next":${next}}`;

export const welcomeFrame = (sid: string, resumed: boolean, ack: number, next: number): string =>
  `{"type":"welcome","sid":"${sid}","resumed":${resumed},"ack":${ack},"next":${next}}`;

export const ackFrame = (ack: number): string => `{"type":"ack","ack":${ack}}`;
