import { invalidOption } from '../errors.js';

/**
 * What a close code means for the reconnect loop. Decided here, used by the statechart's guards.
 */
export type CloseAction =
  /** Reconnect with the normal backoff. */
  | 'retry'
  /** Reconnect, but not soon: the server said "try again later". */
  | 'retry-later'
  /** Do not reconnect: retrying would fail the same way (protocol errors, unsupported data, bad auth). */
  | 'fatal';

/**
 * Verdicts for close codes received from the server (or synthesized by the transport, like 1006).
 * A user's own `close()` never reconnects and does not go through this table.
 */
export const DEFAULT_CLOSE_ACTIONS: Readonly<Record<number, CloseAction>> = Object.freeze({
  1000: 'retry', // a server ending normally is usually a deploy or a rebalance
  1001: 'retry',
  1002: 'fatal',
  1003: 'fatal',
  1005: 'retry',
  1006: 'retry',
  1007: 'fatal',
  1008: 'fatal',
  1009: 'fatal',
  1010: 'fatal',
  1011: 'retry',
  1012: 'retry',
  1013: 'retry-later',
  1014: 'retry',
  1015: 'fatal',
  3000: 'fatal', // IANA: Unauthorized
  3003: 'fatal', // IANA: Forbidden
});

/**
 * A user's classifier: return a verdict for codes it knows, `undefined` to fall back to the defaults.
 */
export type CloseClassifier = (code: number, reason: string) => CloseAction | undefined;

/** Overrides as a table (`{ 4001: 'fatal' }`) or a classifier function. */
export type CloseCodesOption = Readonly<Record<number, CloseAction>> | CloseClassifier;

const VERDICTS: readonly unknown[] = ['retry', 'retry-later', 'fatal'];

/** The table form of `closeCodes`: close codes 1000-4999 to a verdict (`createConnection` and `classifyClose`). */
export function checkCloseTable(table: unknown, name = 'closeCodes'): void {
  if (typeof table !== 'object' || table === null || Array.isArray(table)) {
    throw invalidOption(name, 'a table of close code verdicts ({ 4001: \'fatal\' }) or a classifier function', table);
  }
  for (const [key, verdict] of Object.entries(table)) {
    const n = Number(key);
    if (!Number.isInteger(n) || n < 1000 || n > 4999) throw invalidOption('closeCodes', 'keys that are close codes 1000-4999', key);
    if (!VERDICTS.includes(verdict)) throw invalidOption(`closeCodes[${key}]`, "'retry', 'retry-later' or 'fatal'", verdict);
  }
}

/** What a close means for the reconnect loop; checks its arguments (for callers outside the chart). */
export function classifyClose(code: number, reason: string, overrides?: CloseCodesOption): CloseAction {
  if (!Number.isInteger(code) || code < 0) throw invalidOption('classifyClose(code)', 'a close code (a whole number such as 1006)', code);
  if (typeof reason !== 'string') throw invalidOption('classifyClose(code, reason)', "the close reason, a string ('' for none)", reason);
  if (overrides !== undefined && typeof overrides !== 'function') checkCloseTable(overrides, 'classifyClose(code, reason, overrides)');
  return verdictFor(code, reason, overrides);
}

/**
 * The chart's guards use this one: the table was checked when the connection was created, and whatever a
 * transport reports as a close must get a verdict, never an exception in the middle of a transition.
 */
export function verdictFor(code: number, reason: string, overrides?: CloseCodesOption): CloseAction {
  if (typeof overrides === 'function') {
    const verdict = overrides(code, reason);
    if (verdict !== undefined) return verdict;
  } else if (overrides && Object.hasOwn(overrides, code)) {
    return overrides[code] as CloseAction;
  }
  return DEFAULT_CLOSE_ACTIONS[code] ?? 'retry';
}

/**
 * WHATWG `close()` accepts 1000 or 3000-4999 from applications; 1001-2999 are reserved for endpoints themselves.
 */
export function isValidUserCloseCode(code: number): boolean {
  return Number.isInteger(code) && (code === 1000 || (code >= 3000 && code <= 4999));
}

/** RFC 6455 section 5.5: a control frame payload is at most 125 bytes, 2 of them the code. */
export const MAX_CLOSE_REASON_BYTES = 123;
