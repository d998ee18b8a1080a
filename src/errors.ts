/**
 * One error family for everything socketchart rejects. Callers branch on `code`, which is stable across
 * releases; the message says what to change.
 */
export type SocketchartErrorCode =
  | 'ERR_INVALID_URL'
  | 'ERR_INVALID_CLOSE_CODE'
  | 'ERR_REASON_TOO_LONG'
  | 'ERR_NO_TRANSPORT'
  | 'ERR_INVALID_OPTION'
  | 'ERR_INVALID_DATA'
  | 'ERR_QUEUE_FULL'
  | 'ERR_OPEN_TIMEOUT'
  | 'ERR_CONNECTION_CLOSED'
  | 'ERR_REQUEST_TIMEOUT'
  | 'ERR_CONNECTION_LOST'
  | 'ERR_MESSAGE_TOO_LARGE'
  /** A frame looked like a chunk (`{"$chunk":` or the binary chunk header) but its fields were not valid. */
  | 'ERR_INVALID_CHUNK'
  /** A chunked message never completed: its socket ended, or too many others were in progress. */
  | 'ERR_MESSAGE_INCOMPLETE'
  /** The attempt did not open within `connectTimeout`. */
  | 'ERR_CONNECT_TIMEOUT'
  /** No pong (and no other traffic) within `heartbeat.timeout`: the connection was declared dead. */
  | 'ERR_HEARTBEAT_TIMEOUT'
  /** The server refused authentication (a nack, an HTTP 401/403, or no ack within `auth.timeout`). */
  | 'ERR_AUTH_FAILED'
  /** A method that needs a plug-in (request() needs requests(), on() needs router()) was called without it. */
  | 'ERR_PLUGIN_MISSING'
  /**
   * Server: an effect given to `message.commit()` failed (a Redis command Redis refused, a memory-store function
   * that threw; the cause is attached), or a client message was recorded without its effects after
   * `maxEffectFailures` failures (the default dead-letter report). Unlike `ERR_INVALID_DATA`, the effect itself was
   * well formed.
   */
  | 'ERR_EFFECT_FAILED'
  /**
   * Server: the session store lost data it had accepted (Redis evicted a session's messages): what is still known
   * went to `onExpire`, the rest is named in the message, and the session was removed. Run Redis with
   * `maxmemory-policy noeviction`.
   */
  | 'ERR_STORE_DATA_LOST'
  /**
   * The socket failed: the transport's own error is the `cause` and its message is kept (a refused handshake such as
   * `Unexpected server response: 503`, a refused or reset TCP connection, a browser's bare `error` event).
   */
  | 'ERR_TRANSPORT'
  /** An app's URL, protocols, headers or token provider threw or rejected (its error is the `cause`); retried. */
  | 'ERR_PROVIDER_FAILED'
  /** An optional package a feature needs is not installed (the message names it and the install command). */
  | 'ERR_MISSING_PEER';

export class SocketchartError extends Error {
  readonly code: SocketchartErrorCode;

  constructor(code: SocketchartErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SocketchartError';
    this.code = code;
  }
}

export function isSocketchartError(value: unknown, code?: SocketchartErrorCode): value is SocketchartError {
  return value instanceof SocketchartError && (code === undefined || value.code === code);
}

export function invalidOption(name: string, expected: string, got: unknown): SocketchartError {
  return new SocketchartError(
    'ERR_INVALID_OPTION',
    `Option \`${name}\` must be ${expected}; got ${describe(got)}.`,
  );
}

export function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  if (typeof value === 'number' || typeof value === 'boolean' || value == null) return String(value);
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'symbol') return `a symbol (${String(value)})`;
  if (typeof value === 'bigint') return `${value}n`;
  if (Array.isArray(value)) return 'an array';
  return `an object (${Object.prototype.toString.call(value).slice(8, -1)})`;
}

/** A method whose plug-in the app did not pass: says which import gives it. */
export function missingPlugin(method: string, option: string, call: string): SocketchartError {
  return new SocketchartError(
    'ERR_PLUGIN_MISSING',
    `${method} needs the ${option} plug-in: import { ${option} } from 'socketchart/${option}' and pass createConnection(url, { ${option}: ${call} }).`,
  );
}

/** Counts as words in messages (`1 message`, `2 messages`): a queue bounded at 1 is common in tests and small devices. */
export const counted = (n: number, unit: string): string => `${n} ${unit}${n === 1 ? '' : 's'}`;
