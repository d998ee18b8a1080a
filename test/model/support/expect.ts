import type { ConnectionPathStep } from '../../../src/testing/paths.js';

/** Events of one step, as the facade fired them. */
export interface StepEvents {
  statechanges: Array<{ from: string; to: string }>;
  opens: number;
  closes: Array<{ code: number; closedBy: string | undefined }>;
  errors: number;
  reconnecting: number;
  giveups: number;
}

export function emptyStepEvents(): StepEvents {
  return { statechanges: [], opens: 0, closes: [], errors: 0, reconnecting: 0, giveups: 0 };
}

/**
 * Chart bugs the replays meet, keyed by the transition that shows them. A step taking one may deviate from the
 * documented behaviour in exactly the way described (and no other); the test that checks the bug is still there
 * fails once it is fixed, so the entry is removed then.
 */
export const KNOWN_BUGS: Readonly<Record<string, { symptom: string; deviates(expected: StepEvents, actual: StepEvents): boolean }>> = Object.freeze({});

const isOpenish = (state: string) => state === 'open' || state === 'closing';

/**
 * What the facade must fire for `step` (README: "When open, close and error fire"), given the public state
 * before it: one `statechange` per change of `conn.state`; `open` on entering `open`; `close` when a socket that
 * fired `open` ends, or once on reaching `closed` (with `closedBy`); `error` for socket errors and failures;
 * `reconnecting` on entering the backoff; `giveup` when retries ran out.
 */
export function expectedEvents(prev: string, step: ConnectionPathStep): StepEvents {
  const expected = emptyStepEvents();
  if (prev !== step.state) expected.statechanges.push({ from: prev, to: step.state });
  if (prev !== 'open' && step.state === 'open') expected.opens = 1;
  // An open() made while closing passes through `closed` in the same step: the session's final close still fires.
  const reopened = step.transitions.some((key) => key.startsWith('closed --always [reopenRequested]-->'));
  if ((step.state === 'closed' || reopened) && prev !== 'closed') expected.closes.push({ code: -1, closedBy: closedKindOf(step) });
  else if (isOpenish(prev) && !isOpenish(step.state)) expected.closes.push({ code: -1, closedBy: undefined });
  if (step.event.type === 'SOCKET.ERROR' || step.event.type === 'SOCKET.FAIL' || step.transitions.some(failsAttempt)) expected.errors = 1;
  if (prev !== 'reconnecting.backoff' && step.state === 'reconnecting.backoff') expected.reconnecting = 1;
  if (step.transitions.some((key) => key.includes('[retriesExhausted]'))) expected.giveups = 1;
  return expected;
}

/**
 * Transitions where the chart fails an attempt on its own (connect/heartbeat timeout, auth refused or timed out)
 * or the app's retryWait failed: each reports an `error`, as a failed socket does.
 */
function failsAttempt(key: string): boolean {
  return /--after (connectTimeout|heartbeatTimeout|authTimeout)--> \(stay\)$/.test(key) || key.includes('--AUTH.FAIL') || key.includes('--error retryWait-->');
}

/** `closedBy.kind` for a step entering `closed`, from the transition that got there. */
export function closedKindOf(step: ConnectionPathStep): string {
  const keys = step.transitions.join('\n');
  if (keys.includes('[closeRejectsToken]') || keys.includes('authenticating --AUTH.FAIL--> closed')) return 'auth';
  if (keys.includes('[closeIsFatal]')) return 'fatal';
  if (keys.includes('[reconnectDeclined]')) return 'server';
  if (keys.includes('[retriesExhausted]')) return 'giveup';
  if (keys.includes('SOCKET.FAIL')) return 'error';
  return 'user';
}

/** Comparable form: close codes are not predicted, only whether the close ends the session and why. */
export function normalize(events: StepEvents): StepEvents {
  return { ...events, closes: events.closes.map((c) => ({ code: -1, closedBy: c.closedBy })) };
}
