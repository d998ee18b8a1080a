/**
 * When `ws` fails a connection over something the server did (a frame RFC 6455 forbids, text that is not UTF-8, a
 * message over `maxPayload`), it sends a close frame with the code that says why and stops reading, so its own
 * `close` event can only say 1006. This recovers the code from the error it emits, for the Node transport and for
 * the browser transport when `ws` is the WHATWG constructor (its ErrorEvent carries the error). No Node built-ins
 * here: the browser bundle imports it.
 */

/** A connection ws failed, as the chart should see it. */
export interface ProtocolFailure {
  code: number;
  reason: string;
}

/**
 * ws's error codes (stable, listed in its docs) and the close code each one means. ws puts the same number on the
 * error under a private symbol; the table keeps us off that symbol.
 */
const WS_ERROR_CLOSE_CODES: Readonly<Record<string, number>> = Object.freeze({
  WS_ERR_EXPECTED_FIN: 1002,
  WS_ERR_EXPECTED_MASK: 1002,
  WS_ERR_UNEXPECTED_MASK: 1002,
  WS_ERR_INVALID_OPCODE: 1002,
  WS_ERR_INVALID_CLOSE_CODE: 1002,
  WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH: 1002,
  WS_ERR_UNEXPECTED_RSV_1: 1002,
  WS_ERR_UNEXPECTED_RSV_2_3: 1002,
  WS_ERR_INVALID_UTF8: 1007,
  WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH: 1009,
  WS_ERR_UNSUPPORTED_MESSAGE_LENGTH: 1009,
  // ws sends 1008 for too many fragments or buffered chunks. It is a size bound like maxPayload, and a 1008 would
  // read as "token rejected" (auth.refreshCodes) to a connection that authenticates: reported as 1009.
  WS_ERR_TOO_MANY_BUFFERED_PARTS: 1009,
});

/** The reasons the chart sees, kept short and stable (ws's messages are for the `error` event). */
const REASONS: Readonly<Record<number, string>> = Object.freeze({
  1002: 'Protocol error (the server broke RFC 6455)',
  1007: 'Invalid data (text that is not UTF-8, or a message that does not inflate)',
  1009: 'Message too big (over maxPayload or ws’s fragment limits)',
});

/**
 * The close code for an error ws failed the connection with, or undefined for anything else (a reset, a refused
 * handshake, a TLS failure: those stay 1006 and are retried).
 */
export function protocolFailureOf(error: unknown): ProtocolFailure | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const wsCode = (error as { code?: unknown }).code;
  let code = typeof wsCode === 'string' ? WS_ERROR_CLOSE_CODES[wsCode] : undefined;
  // permessage-deflate: zlib's own errors (Z_DATA_ERROR, ...) on data that does not inflate; ws closes with 1007.
  if (code === undefined && typeof wsCode === 'string' && wsCode.startsWith('Z_') && isFromWs(error)) code = 1007;
  return code === undefined ? undefined : { code, reason: REASONS[code]! };
}

/** ws stamps the close code it sent on the errors it fails a connection with (a symbol named `status-code`). */
function isFromWs(error: object): boolean {
  return Object.getOwnPropertySymbols(error).some((s) => s.description === 'status-code');
}
