/**
 * The `auth` option group: a token provider called before every attempt, and how the token reaches the server.
 * Type, defaults and resolver; the exchange itself runs in the chart (`connecting.authenticating`'s authExchange
 * actor) and src/host/authExchange.ts, token placement in src/host/openRequest.ts.
 */
import type { SendData } from '../data.js';
import { invalidOption } from '../errors.js';
import type { Transport } from '../transports/types.js';
import { type Assert, type ListsAllKeys, MAX_DELAY, callback, delay, group, oneOf, text } from '../validate.js';
import { isJsonOfType } from './heartbeat.js';

export interface AuthOptions {
  /**
   * Gives the token; called before every attempt (sync or async), so an expired token is replaced in time.
   * Required: setting it is what turns auth on.
   * @default none
   */
  token: () => string | Promise<string>;
  /**
   * How the token travels: an auth message after the socket opens (and an ack before `open`), a URL query
   * parameter, a handshake header (Node transport), or cookies (browsers send them; nothing to do).
   * @default 'message'
   */
  mode?: 'message' | 'query' | 'header' | 'cookie';
  /**
   * Builds the auth message (mode `message`).
   * @default (token) => JSON.stringify({ type: 'auth', token })
   */
  message?: (token: string) => SendData;
  /**
   * Recognizes the server's acknowledgement (mode `message`).
   * @default a JSON message with `type: 'auth_ok'`
   */
  isAck?: (data: unknown) => boolean;
  /**
   * Recognizes the server's refusal (mode `message`).
   * @default a JSON message with `type: 'auth_error'`
   */
  isNack?: (data: unknown) => boolean;
  /**
   * Ms to wait for the ack (mode `message`). `Infinity` (graphql-ws's `connectionAckWaitTimeout: Infinity`) waits
   * the longest a timer can, 2^31 - 1 ms (about 24.8 days). 0 is refused: no ack can come in 0 ms. `connectTimeout`
   * bounds the whole of `connecting`, this wait included.
   * @default 5000
   */
  timeout?: number;
  /**
   * The query parameter (mode `query`).
   * @default 'token'
   */
  queryParam?: string;
  /**
   * The header (mode `header`); its value is `Bearer <token>`.
   * @default 'Authorization'
   */
  header?: string;
  /**
   * Close codes meaning "token rejected": the token is refreshed and the connection retried once, then the code
   * is final (`closedBy.kind === 'auth'`).
   * @default [1008, 4001]
   */
  refreshCodes?: number[];
}

export interface ResolvedAuth {
  token: () => string | Promise<string>;
  mode: 'message' | 'query' | 'header' | 'cookie';
  message: (token: string) => SendData;
  isAck: (data: unknown) => boolean;
  isNack: (data: unknown) => boolean;
  timeout: number;
  queryParam: string;
  header: string;
  refreshCodes: readonly number[];
}

export const AUTH_DEFAULTS = Object.freeze({
  mode: 'message' as ResolvedAuth['mode'],
  timeout: 5_000,
  queryParam: 'token',
  header: 'Authorization',
  refreshCodes: Object.freeze([1008, 4001]) as readonly number[],
});

const KEYS = ['token', 'mode', 'message', 'isAck', 'isNack', 'timeout', 'queryParam', 'header', 'refreshCodes'] as const;
type _Keys = Assert<ListsAllKeys<AuthOptions, typeof KEYS>>;

export function resolveAuth(auth: AuthOptions | undefined, transport: Transport): ResolvedAuth | null {
  const a = group('auth', auth, KEYS, 'an object with a token provider');
  if (a === undefined) return null;
  if (typeof a.token !== 'function') throw invalidOption('auth.token', 'a function returning the token (or a promise of it)', a.token);
  const d = AUTH_DEFAULTS;
  const mode = oneOf('auth.mode', a.mode, d.mode, ['message', 'query', 'header', 'cookie']);
  if (mode === 'header' && !transport.supportsHeaders) {
    throw invalidOption('auth.mode', `'message', 'query' or 'cookie' with the ${transport.name} transport (it cannot send handshake headers)`, mode);
  }
  const timeout = delay('auth.timeout', a.timeout, d.timeout, true);
  // An ack cannot come in 0 ms: every attempt would fail as it opens (graphql-ws reads 0 as "do not wait").
  if (timeout === 0) throw invalidOption('auth.timeout', 'ms greater than 0 (Infinity: wait the longest a timer can, about 24.8 days)', 0);
  const refreshCodes = a.refreshCodes ?? d.refreshCodes;
  if (!Array.isArray(refreshCodes) || refreshCodes.some((c) => !Number.isInteger(c))) {
    throw invalidOption('auth.refreshCodes', 'an array of close codes', refreshCodes);
  }
  return {
    token: a.token,
    mode,
    message: callback('auth.message', a.message) ?? ((token) => JSON.stringify({ type: 'auth', token })),
    isAck: callback('auth.isAck', a.isAck) ?? ((data) => isJsonOfType(data, 'auth_ok')),
    isNack: callback('auth.isNack', a.isNack) ?? ((data) => isJsonOfType(data, 'auth_error')),
    // The chart's timers take finite delays; the longest one it has stands for "never".
    timeout: timeout === Infinity ? MAX_DELAY : timeout,
    queryParam: text('auth.queryParam', a.queryParam, d.queryParam),
    header: text('auth.header', a.header, d.header),
    refreshCodes,
  };
}
