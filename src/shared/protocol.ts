/**
 * What the tabs of one shared connection say to each other over their `BroadcastChannel`.
 *
 * Every value crosses by structured clone, so nothing here is a class: errors travel as `{ name, message, code }`
 * and are rebuilt on arrival, events as their fields. Inbound messages cross *decoded*: the leader's codec and
 * schema ran once, and every tab receives the same value (so a codec must produce values structured clone can
 * carry: JSON values, strings, ArrayBuffers, Blobs; class instances arrive as plain objects).
 *
 * Addressing: `to` names one tab (a tab id). A message addressed to a tab that is gone is ignored by everyone; the
 * sender keeps what needs an answer (sends until acknowledged, requests until replied) and sends it again to the
 * next leader. Messages from one tab arrive in the order it posted them (BroadcastChannel keeps per-sender order),
 * which is what makes "in order per tab" hold.
 */
import type { ClosedReason } from '../../machines/connection.js';
import { type SendData, utf8Length } from '../data.js';
import { SocketchartError, type SocketchartErrorCode, describe } from '../errors.js';
import { MAX_CLOSE_REASON_BYTES, isValidUserCloseCode } from '../policies/closeCodes.js';
import type { DropReason } from '../policies/queue.js';
import type { LoggedMessage, WireSession } from './session.js';

/** Bumped when the messages below change shape: tabs on another version never share a channel. */
export const SHARED_PROTOCOL_VERSION = 5;

/** An error as structured clone can carry it, keeping socketchart's stable `code`. */
export interface WireError {
  name: string;
  message: string;
  code?: SocketchartErrorCode;
}

/** `closedBy`, with its error flattened. */
export type WireClosedReason = Omit<ClosedReason, 'error'> & { error?: WireError };

/** What a tab needs to show the leader's connection: sent on every statechange and to every late joiner. */
export interface LeaderSnapshot {
  state: string;
  url: string;
  protocol: string;
  extensions: string;
  closedBy: WireClosedReason | null;
}

interface FromTab {
  /** The sending tab's id. */
  from: string;
}

interface FromLeader extends FromTab {
  /** The leader's term: later leaders have larger ones; anything from an older term is stale. */
  epoch: number;
}

export type WireMessage =
  /** A tab arrived (or lost its leader): the leader, if any, answers with `leader` addressed to it. */
  | ({ t: 'hello' } & FromTab)
  /**
   * `from` leads (it holds the lock). Broadcast when it takes the lock; addressed (`to`) when answering a hello.
   * `session`: the acknowledged-delivery session (session.ts), when there is one.
   */
  | ({ t: 'leader'; to?: string; snap: LeaderSnapshot; session?: WireSession } & FromLeader)
  /**
   * The leader is leaving (its page hides or its handle closed): the lock is about to pass on. `reports`: its
   * connection goes on to report what it could not confirm (its handle closed, the page stays); without it the page
   * is going, and followers report their sends it wrote and never confirmed themselves.
   */
  | ({ t: 'bye'; reports?: true } & FromLeader)
  /** The leader's chart moved. */
  | ({ t: 'state'; event: string; snap: LeaderSnapshot } & FromLeader)
  /** A connection event, its fields flattened (`open`, `close`, `error`, `reconnecting`, `giveup`, `drain`, `invalid-message`). */
  | ({ t: 'event'; event: WireEvent } & FromLeader)
  /** An inbound message, decoded by the leader; `seq`: its sequence number in the acknowledged-delivery session. */
  | ({ t: 'message'; data: unknown; origin: string; seq?: number } & FromLeader)
  /** Acknowledged delivery (session.ts): messages the leader's layer numbered, written only after this was posted. */
  | ({ t: 'log'; sid: string; entries: LoggedMessage[] } & FromLeader)
  /** The server acknowledged the session's messages up to `ack`. */
  | ({ t: 'acked'; sid: string; ack: number } & FromLeader)
  /**
   * The server had processed seqs the tabs never heard of (an old leader's lost log): every held message numbered
   * `first` or later now has its seq + `by`, and numbering goes on after them. Posted before any of them is written.
   */
  | ({ t: 'renumbered'; sid: string; first: number; by: number } & FromLeader)
  /** The session restarted: a new id (nothing held), or the same id with the server's numbering starting over. */
  | ({ t: 'session'; sid: string; next: number; lastIn: number } & FromLeader)
  /** A follower's send: the `seq`-th of its tab, for the leader `to`. */
  | ({ t: 'send'; to: string; seq: number; message: unknown } & FromTab)
  /**
   * Every send of tab `to` up to `seq` is written (or handed to its own drop report): forget them. (Under
   * acknowledged delivery a send's `log` entry acknowledges it; this comes only for sends the session did not take.)
   */
  | ({ t: 'ack'; to: string; seq: number } & FromLeader)
  /**
   * Plain mode: every send of tab `to` up to `seq` this leader acknowledged is confirmed as plain mode confirms
   * writes (a pong, a clean close), or was reported to it as a `drop`.
   */
  | ({ t: 'settled'; to: string; seq: number } & FromLeader)
  /**
   * A message of tab `to` that will not be delivered (from whichever tab's connection dropped it, even one that just
   * stopped leading); `seq`: its number in that tab's sends, when known.
   */
  | ({ t: 'drop'; to: string; reason: DropReason; data: SendData; message: unknown; seq?: number } & FromLeader)
  /** A tab took the lock and, before resuming the session, asks every tab for its copy (answered with `copy`). */
  | ({ t: 'gather' } & FromLeader)
  | ({ t: 'copy'; to: string; session: WireSession } & FromTab)
  /** A follower's request `rid` (its own numbering), for the leader `to`. */
  | ({ t: 'request'; to: string; rid: number; message: unknown; timeout?: number } & FromTab)
  | ({ t: 'cancel'; to: string; rid: number } & FromTab)
  | ({ t: 'reply'; to: string; rid: number; ok: true; value: unknown } & FromLeader)
  | ({ t: 'reply'; to: string; rid: number; ok: false; error: WireError } & FromLeader)
  /** `open()` or `reconnect()` called in a follower: the leader runs it on the socket. */
  | ({ t: 'command'; to: string; command: 'open' | 'reconnect' } & FromTab);

export type WireEvent =
  | { type: 'open' }
  | { type: 'close'; code: number; reason: string; wasClean: boolean; closedBy: WireClosedReason | null }
  | { type: 'error'; error: WireError }
  | { type: 'reconnecting'; attempt: number; delay: number }
  | { type: 'giveup'; closedBy: WireClosedReason }
  | { type: 'drain'; bufferedAmount: number }
  /** `problem`: an Error as a `WireError` (posted, it would lose its `code`), anything else as itself if it clones. */
  | { type: 'invalid-message'; data: unknown; problem: WireProblem };

/** An invalid message's problem on the channel: a schema's issues cross as they are, an error flattened. */
export type WireProblem = { error: WireError } | { value: unknown };

export function toWireProblem(problem: unknown): WireProblem {
  if (problem instanceof Error) return { error: toWireError(problem) };
  try {
    // What the channel cannot clone would make the leader's post throw.
    structuredClone(problem);
    return { value: problem };
  } catch {
    // A schema's issues holding a function (valibot's check() keeps its predicate): crossed as their data.
    const data = dataOf(problem);
    return data === undefined ? { error: toWireError(problem) } : { value: data };
  }
}

/** `value` as JSON would carry it (functions and symbols left out), or undefined when JSON cannot (a cycle, a BigInt). */
function dataOf(value: unknown): unknown {
  try {
    const json = JSON.stringify(value);
    return json === undefined ? undefined : (JSON.parse(json) as unknown);
  } catch {
    return undefined;
  }
}

export function fromWireProblem(wire: WireProblem): unknown {
  return 'error' in wire ? fromWireError(wire.error) : wire.value;
}

export function toWireError(error: unknown): WireError {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return typeof code === 'string' ? { name: error.name, message: error.message, code: code as SocketchartErrorCode } : { name: error.name, message: error.message };
  }
  return { name: 'Error', message: String(error) };
}

export function fromWireError(wire: WireError): Error {
  if (wire.code !== undefined) return new SocketchartError(wire.code, wire.message);
  const error = new Error(wire.message);
  error.name = wire.name;
  return error;
}

export function toWireClosedReason(reason: ClosedReason | null | undefined): WireClosedReason | null {
  if (!reason) return null;
  const { error, ...rest } = reason;
  return error ? { ...rest, error: toWireError(error) } : rest;
}

export function fromWireClosedReason(reason: WireClosedReason | null): ClosedReason | null {
  if (!reason) return null;
  const { error, ...rest } = reason;
  return error ? { ...rest, error: fromWireError(error) } : rest;
}

/** `readyState` of a public state path, as the chart's tags give it. */
export function readyStateOfPath(path: string): 0 | 1 | 2 | 3 {
  if (path === 'open') return 1;
  if (path === 'closing') return 2;
  if (path === 'closed') return 3;
  return 0;
}

/** The checks `Connection.close` makes, made before a leader resigns (they must not throw halfway through it). */
export function checkClose(code: number | undefined, reason: string | undefined): void {
  if (code !== undefined && !isValidUserCloseCode(code)) {
    throw new SocketchartError('ERR_INVALID_CLOSE_CODE', `close() takes code 1000 or 3000-4999 (4000-4999 for your application); got ${describe(code)}.`);
  }
  if (reason !== undefined && typeof reason !== 'string') {
    throw new SocketchartError('ERR_INVALID_CLOSE_CODE', `close() takes a string reason; got ${describe(reason)}.`);
  }
  if (reason !== undefined && utf8Length(reason) > MAX_CLOSE_REASON_BYTES) {
    throw new SocketchartError('ERR_REASON_TOO_LONG', `The close reason is ${utf8Length(reason)} UTF-8 bytes; the protocol allows ${MAX_CLOSE_REASON_BYTES}. Shorten it.`);
  }
}

/** Whether this page can share: Web Locks (secure contexts only) and BroadcastChannel. */
export function canShare(): boolean {
  return (
    typeof BroadcastChannel === 'function' &&
    typeof navigator !== 'undefined' &&
    typeof (navigator as { locks?: { request?: unknown } }).locks?.request === 'function' &&
    (globalThis as { isSecureContext?: boolean }).isSecureContext !== false
  );
}
