/**
 * The connection statechart: every lifecycle decision of a socketchart connection is a transition here.
 *
 *   idle ──CONNECT──▶ attempt ──────────────(fatal close, giveup, auth refused, user close)──────────▶ closed
 *                     │ connecting.opening ──SOCKET.OPEN──▶ [connecting.authenticating ──AUTH.OK──▶] open
 *                     │ open ∥ heartbeat (resting ⇄ probing) ──CLOSE──▶ closing ──SOCKET.CLOSE──▶ closed
 *                     └──(attempt lost, retryable)──▶ reconnecting.backoff ──after retryDelay──▶ attempt
 *                                                      reconnecting.waitingForNetwork ──ONLINE──▶ attempt
 *
 * The generated diagram (README, `socketchart diagram`) shows every transition with its guard.
 * `attempt` invokes the socket actor, so one socket lives exactly as long as one attempt: leaving `attempt` for
 * any reason stops the actor and terminates its socket, and a stopped actor can send nothing back.
 * Timers are `after` delays, so a SimulatedClock drives every one of them in tests.
 * Messages do not pass through here (see `ConnectionHost.deliver`); the machine owns the lifecycle only.
 */
import { type EventObject, assign, emit, fromCallback, fromPromise, raise, sendTo, setup } from 'xstate';
import { SocketchartError } from '../src/errors.js';
import { backoffDelay, mayRetry } from '../src/policies/backoff.js';
import { verdictFor } from '../src/policies/closeCodes.js';
import type { SocketActorInput, SocketCommand, SocketEvent } from '../src/transports/actor.js';
import type { CloseInfo } from '../src/transports/types.js';
import { MAX_DELAY } from '../src/validate.js';
import type { CloseCodesOption } from '../src/policies/closeCodes.js';
import {
  type ClosedKind,
  type ClosedReason,
  type ConnectionContext,
  type ConnectionEmitted,
  type ConnectionEvent,
  type ConnectionHost,
  type ConnectionInput,
  HOST,
  type RetryWaitInput,
} from './types.js';

export type * from './types.js';
export { HOST } from './types.js';

/** The AUTH.FAIL reason of the chart's own auth timer. */
const AUTH_TIMED_OUT = 'Authentication timed out';

/** setTimeout's ceiling: a timer that, in practice, never fires (the `retryWait` actor ends the wait instead). */
const NEVER = MAX_DELAY;

/** The close each non-socket reason for losing an attempt is reported as (1006: no close frame was exchanged). */
const SYNTHETIC_CLOSES: Record<string, CloseInfo> = {
  'CONNECT.TIMEOUT': { code: 1006, reason: 'Connect timeout', wasClean: false },
  'HEARTBEAT.TIMEOUT': { code: 1006, reason: 'Heartbeat timeout', wasClean: false },
  'NETWORK.OFFLINE': { code: 1006, reason: 'Network offline', wasClean: false },
  RECONNECT: { code: 1006, reason: 'Reconnect requested', wasClean: false },
  'AUTH.FAIL': { code: 4401, reason: 'Authentication failed', wasClean: false },
};

/**
 * How the attempt ended, whatever ended it: a socket close, a timeout of the chart, the network going away, the
 * user asking for a fresh socket, or a refused authentication.
 */
export function closeInfoOf(event: ConnectionEvent | { type: string }): CloseInfo {
  if (event.type === 'SOCKET.CLOSE') {
    const { code, reason, wasClean } = event as CloseInfo & { type: string };
    return { code, reason, wasClean };
  }
  if (event.type === 'AUTH.FAIL') return { ...SYNTHETIC_CLOSES['AUTH.FAIL']!, reason: (event as { reason: string }).reason };
  return SYNTHETIC_CLOSES[event.type] ?? { code: 1006, reason: event.type, wasClean: false };
}

/**
 * Where an attempt goes when it is lost (its socket closed, or a timeout of the chart gave up on it). Read top to
 * bottom: the first guard that holds wins. Shared by every way of losing an attempt, so all obey the same policy.
 */
const attemptLost = [
  { guard: 'closeIsFatal', target: '#connection.closed', actions: ['recordClose', { type: 'closedAs', params: 'fatal' }] },
  { guard: 'reconnectDeclined', target: '#connection.closed', actions: ['recordClose', { type: 'closedAs', params: 'server' }] },
  { guard: 'retriesExhausted', target: '#connection.closed', actions: ['recordClose', { type: 'closedAs', params: 'giveup' }] },
  { guard: 'isOffline', target: '#connection.reconnecting.waitingForNetwork', actions: 'recordClose' },
  { target: '#connection.reconnecting.backoff', actions: 'recordClose' },
] as const;

/** A socket close may also be the server refusing the token: refresh it once, then take the refusal as final. */
const socketClosed = [
  { guard: 'closeAsksForNewToken', target: '#connection.attempt', reenter: true, actions: ['recordClose', 'markAuthRefreshed', 'announceDisconnect'] },
  { guard: 'closeRejectsToken', target: '#connection.closed', actions: ['recordClose', { type: 'closedAs', params: 'auth' }] },
  ...attemptLost,
] as const;

/**
 * The chart declares its behaviour by name; what needs the connection's host (sockets, the app's callbacks, the
 * network, data-plane readings) is inert here and given by `connectionMachine.provide()` in src/host/hostedChart.ts,
 * once for every connection. Inert, the chart still runs: the diagrams and the generated paths use it as it is.
 */
export const connectionMachine = setup({
  types: {} as {
    context: ConnectionContext;
    events: ConnectionEvent;
    input: ConnectionInput;
    emitted: ConnectionEmitted;
  },
  actors: {
    /** The socket of one attempt (src/transports/actor.ts, provided): inert here, it never opens. */
    socket: fromCallback<SocketCommand, SocketActorInput, SocketEvent>(() => undefined),
    /** Sends the auth message and listens for the server's verdict, for as long as `authenticating` lasts (provided). */
    authExchange: fromCallback<EventObject, { host: ConnectionHost }>(() => undefined),
    /**
     * What ends a backoff wait besides its timer: the app's `retryWait` hook (provided). Without one the built-in
     * timer (`after retryDelay`) decides and this actor only waits to be stopped.
     */
    retryWait: fromPromise<void, RetryWaitInput>(({ signal }) => new Promise((settle) => signal.addEventListener('abort', () => settle()))),
  },
  guards: {
    /** The close code's verdict is `fatal` (provided: the app's `closeCodes` may be a function). */
    closeIsFatal: ({ event }) => isFatal(event, undefined),
    /** The app's `shouldReconnect` said no (provided). */
    reconnectDeclined: () => false,
    retriesExhausted: ({ context }) => !mayRetry(context.retries, context.policy.backoff),
    /** The network is down (provided: the host watches it). */
    isOffline: () => false,
    authByMessage: ({ context }) => context.policy.auth?.byMessage === true,
    closeAsksForNewToken: ({ context, event }) => !context.authRefreshed && isTokenRejection(context, event),
    closeRejectsToken: ({ context, event }) => context.authRefreshed && isTokenRejection(context, event),
    tokenMayBeRefreshed: ({ context }) => !context.authRefreshed,
    reopenRequested: ({ context }) => context.reopen,
    heartbeatEnabled: ({ context }) => context.policy.heartbeat !== null,
    /** A message arrived since the probe started (provided: the data plane counts them). */
    heardSinceProbe: () => false,
  },
  delays: {
    connectTimeout: ({ context }) => context.policy.connectTimeout,
    closeTimeout: ({ context }) => context.policy.closeTimeout,
    retryDelay: ({ context }) => (context.policy.waitsForRetryHook ? NEVER : context.retryDelay),
    resetAfter: ({ context }) => context.policy.backoff.resetAfter,
    authTimeout: ({ context }) => context.policy.auth?.timeout ?? NEVER,
    heartbeatInterval: ({ context }) => context.policy.heartbeat?.interval ?? NEVER,
    heartbeatTimeout: ({ context }) => context.policy.heartbeat?.timeout ?? NEVER,
  },
  actions: {
    // Each attempt starts with a clean error slate, so a close never carries an earlier attempt's error.
    beginAttempt: assign({ attempts: ({ context }) => context.attempts + 1, lastError: null }),
    beginSession: assign({ retries: 0, lastClose: null, lastError: null, closeRequest: null, authRefreshed: false, reopen: false }),
    markStable: assign({ retries: 0, authRefreshed: false }),
    markAuthRefreshed: assign({ authRefreshed: true }),
    requestReopen: assign({ reopen: true }),
    cancelReopen: assign({ reopen: false }),
    /** Notes the inbound count as a probe starts (provided). */
    markProbe: () => undefined,
    /** Probes the connection (provided). */
    sendPing: () => undefined,
    recordClose: assign({ lastClose: ({ event }) => closeInfoOf(event) }),
    recordError: assign({ lastError: ({ event }) => asData((event as { error: Error }).error) }),
    /**
     * The chart itself failed the attempt (a timeout, a refused authentication): like a socket error, it is
     * recorded for `giveup` and reported as an `error` event, so every failed attempt fires one (as WHATWG fails a
     * connection with `error` then `close`).
     */
    recordFailure: assign({ lastError: ({ context, event }, kind: ChartFailure) => failureOf(kind, context, event) }),
    announceLastError: emit(({ context }) => ({ type: 'failed' as const, error: context.lastError as Error })),
    /** The next retry and its delay (provided, with the app's `closeCodes` and `random`). */
    scheduleRetry: assign(({ context }) => nextRetry(context, undefined, Math.random)),
    /** A user close from a state without a socket: closed at once, and not clean (the DOM reports the same). */
    closedByUser: assign({
      closedBy: ({ event }) => {
        const { code, reason } = event as { code: number; reason: string };
        return { kind: 'user' as const, code, reason, wasClean: false };
      },
    }),
    /** A user close of an open socket: its close frame goes out, and `closing` waits for the server's answer. */
    requestClose: assign({
      closeRequest: ({ event }) => {
        const { code, reason } = event as { code: number; reason: string };
        return { code, reason };
      },
    }),
    /** The server answered our close frame: the close the user asked for, clean if the handshake was. */
    closedByHandshake: assign({
      closedBy: ({ context, event }) => ({ kind: 'user' as const, ...(context.closeRequest as { code: number; reason: string }), wasClean: (event as { wasClean: boolean }).wasClean }),
    }),
    /** The closing handshake never completed (no answer, or the network went): the user's close, not clean. */
    closedUnanswered: assign({
      closedBy: ({ context }) => ({ kind: 'user' as const, ...(context.closeRequest as { code: number; reason: string }), wasClean: false }),
    }),
    closedAs: assign({
      closedBy: ({ context, event }, kind: ClosedKind) => ({
        ...closeInfoOf(event),
        kind,
        ...(context.lastError ? { error: context.lastError } : {}),
      }),
    }),
    closedByFailure: assign({
      closedBy: ({ event }) => ({
        kind: 'error' as const,
        code: 1006,
        reason: (event as { error: Error }).error.message,
        wasClean: false,
        error: asData((event as { error: Error }).error),
      }),
    }),
    closeSocket: sendTo('socket', ({ context }) => {
      const request = context.closeRequest as { code: number; reason: string };
      return { type: 'close' as const, code: request.code, reason: request.reason };
    }),
    announceOpen: emit({ type: 'opened' as const }),
    announceLeftOpen: emit({ type: 'leftOpen' as const }),
    announceDisconnect: emit(({ context }) => ({ type: 'disconnected' as const, close: context.lastClose as CloseInfo })),
    announceRetry: emit(({ context }) => ({ type: 'retrying' as const, retry: context.retries, delay: context.retryDelay })),
    announceClosed: emit(({ context }) => ({ type: 'closed' as const, closedBy: context.closedBy as ClosedReason })),
    announceError: emit(({ event }) => ({ type: 'failed' as const, error: (event as { error: Error }).error })),
    /** The app's `retryWait` hook failed: said out loud, and the retry happens at once. */
    announceRetryWaitFailure: emit(({ event }) => {
      const cause = (event as { error: unknown }).error;
      const message = cause instanceof Error ? cause.message : String(cause);
      return { type: 'failed' as const, error: new SocketchartError('ERR_INVALID_OPTION', `Your \`retryWait\` hook failed: ${message}; retrying now.`, { cause }) };
    }),
  },
}).createMachine({
  id: 'connection',
  context: ({ input }) => ({
    [HOST]: input.host,
    policy: input.policy,
    attempts: 0,
    retries: 0,
    retryDelay: 0,
    lastClose: null,
    lastError: null,
    closedBy: null,
    closeRequest: null,
    authRefreshed: false,
    inboundAtProbe: 0,
    reopen: false,
  }),
  initial: 'idle',
  states: {
    idle: {
      tags: 'CONNECTING',
      on: {
        CONNECT: { target: 'attempt' },
        RECONNECT: { target: 'attempt' },
        CLOSE: { target: 'closed', actions: 'closedByUser' },
      },
    },
    attempt: {
      entry: 'beginAttempt',
      invoke: { id: 'socket', src: 'socket', input: ({ context }) => ({ host: context[HOST] }) },
      initial: 'connecting',
      on: {
        'SOCKET.ERROR': { actions: ['recordError', 'announceError'] },
        'SOCKET.FAIL': { target: 'closed', actions: ['announceError', 'closedByFailure'] },
        'SOCKET.CLOSE': socketClosed,
        'NETWORK.OFFLINE': { target: 'reconnecting.waitingForNetwork', actions: 'recordClose' },
        RECONNECT: { target: 'attempt', reenter: true, actions: ['recordClose', 'announceDisconnect', 'beginSession'] },
      },
      states: {
        connecting: {
          tags: 'CONNECTING',
          initial: 'opening',
          after: { connectTimeout: { actions: [{ type: 'recordFailure', params: 'ERR_CONNECT_TIMEOUT' }, 'announceLastError', raise({ type: 'CONNECT.TIMEOUT' })] } },
          on: {
            'CONNECT.TIMEOUT': attemptLost,
            CLOSE: { target: '#connection.closed', actions: 'closedByUser' },
          },
          states: {
            opening: {
              on: {
                'SOCKET.OPEN': [
                  { guard: 'authByMessage', target: 'authenticating' },
                  { target: '#connection.attempt.open', actions: 'announceOpen' },
                ],
              },
            },
            authenticating: {
              invoke: { id: 'authExchange', src: 'authExchange', input: ({ context }) => ({ host: context[HOST] }) },
              after: { authTimeout: { actions: raise({ type: 'AUTH.FAIL', reason: AUTH_TIMED_OUT }) } },
              on: {
                'AUTH.OK': { target: '#connection.attempt.open', actions: 'announceOpen' },
                'AUTH.FAIL': [
                  // The provider may hold a newer token: one fresh attempt before the refusal is final.
                  {
                    guard: 'tokenMayBeRefreshed',
                    target: '#connection.attempt',
                    reenter: true,
                    actions: [{ type: 'recordFailure', params: 'ERR_AUTH_FAILED' }, 'announceLastError', 'recordClose', 'markAuthRefreshed'],
                  },
                  { target: '#connection.closed', actions: [{ type: 'recordFailure', params: 'ERR_AUTH_FAILED' }, 'announceLastError', 'recordClose', { type: 'closedAs', params: 'auth' }] },
                ],
              },
            },
          },
        },
        open: {
          tags: 'OPEN',
          type: 'parallel',
          exit: 'announceLeftOpen',
          after: { resetAfter: { actions: 'markStable' } },
          on: {
            CLOSE: { target: 'closing', actions: 'requestClose' },
            'HEARTBEAT.TIMEOUT': attemptLost,
          },
          states: {
            heartbeat: {
              initial: 'starting',
              states: {
                starting: {
                  always: [{ guard: 'heartbeatEnabled', target: 'resting' }, { target: 'off' }],
                },
                off: {},
                resting: {
                  after: { heartbeatInterval: { target: 'probing' } },
                },
                probing: {
                  entry: ['markProbe', 'sendPing'],
                  on: { PONG: { target: 'resting' } },
                  after: {
                    heartbeatTimeout: [
                      // Any message received during the probe proves the connection alive as well as a pong.
                      { guard: 'heardSinceProbe', target: 'resting' },
                      { actions: [{ type: 'recordFailure', params: 'ERR_HEARTBEAT_TIMEOUT' }, 'announceLastError', raise({ type: 'HEARTBEAT.TIMEOUT' })] },
                    ],
                  },
                },
              },
            },
          },
        },
        closing: {
          tags: 'CLOSING',
          entry: 'closeSocket',
          // The server never answered our close frame: give up on the handshake (leaving terminates the socket).
          after: { closeTimeout: { target: '#connection.closed', actions: 'closedUnanswered' } },
          on: {
            // The server's own close frame is kept (lastClose): only one that echoes our code answered ours.
            'SOCKET.CLOSE': { target: '#connection.closed', actions: ['recordClose', 'closedByHandshake'] },
            'NETWORK.OFFLINE': { target: '#connection.closed', actions: 'closedUnanswered' },
            // open() while closing: the handshake still finishes, then a new session starts; close() takes that back.
            CONNECT: { actions: 'requestReopen' },
            CLOSE: { actions: 'cancelReopen' },
          },
        },
      },
    },
    reconnecting: {
      tags: 'CONNECTING',
      entry: 'announceDisconnect',
      initial: 'backoff',
      on: {
        CLOSE: { target: 'closed', actions: 'closedByUser' },
        RECONNECT: { target: 'attempt', actions: 'beginSession' },
        'NETWORK.OFFLINE': { target: '.waitingForNetwork' },
      },
      states: {
        backoff: {
          entry: ['scheduleRetry', 'announceRetry'],
          // The wait ends with its timer, or with the app's `retryWait` (whose AbortSignal fires if the wait is
          // left another way: CLOSE, RECONNECT, going offline), or when the page becomes visible.
          after: { retryDelay: { target: '#connection.attempt' } },
          invoke: {
            id: 'retryWait',
            src: 'retryWait',
            input: ({ context }) => ({ host: context[HOST], retry: context.retries, delay: context.retryDelay }),
            onDone: { target: '#connection.attempt' },
            onError: { target: '#connection.attempt', actions: 'announceRetryWaitFailure' },
          },
          on: { 'PAGE.VISIBLE': { target: '#connection.attempt' } },
        },
        waitingForNetwork: {
          on: { 'NETWORK.ONLINE': { target: '#connection.attempt' } },
        },
      },
    },
    closed: {
      tags: 'CLOSED',
      entry: 'announceClosed',
      // The session ended (its final close is announced); an open() made while it was closing starts the next one.
      always: { guard: 'reopenRequested', target: 'attempt', actions: 'beginSession' },
      on: {
        CONNECT: { target: 'attempt', actions: 'beginSession' },
        RECONNECT: { target: 'attempt', actions: 'beginSession' },
      },
    },
  },
});

/** The ways the chart fails an attempt on its own, by the error code each is reported with. */
type ChartFailure = 'ERR_CONNECT_TIMEOUT' | 'ERR_HEARTBEAT_TIMEOUT' | 'ERR_AUTH_FAILED';

function failureOf(kind: ChartFailure, context: ConnectionContext, event: ConnectionEvent): Error {
  const { policy } = context;
  if (kind === 'ERR_CONNECT_TIMEOUT') return new SocketchartError(kind, `The socket did not open within connectTimeout (${policy.connectTimeout} ms).`);
  if (kind === 'ERR_HEARTBEAT_TIMEOUT') {
    return new SocketchartError(kind, `No pong or other message within heartbeat.timeout (${policy.heartbeat?.timeout} ms) of a ping: the connection is treated as dead.`);
  }
  const reason = event.type === 'AUTH.FAIL' ? event.reason : 'Authentication failed';
  return new SocketchartError(kind, reason === AUTH_TIMED_OUT ? `${reason}: no answer within auth.timeout (${policy.auth?.timeout} ms).` : `${reason}.`);
}

/** A close that means "your token was rejected", for connections that authenticate. */
function isTokenRejection(context: ConnectionContext, event: { type: string }): boolean {
  const auth = context.policy.auth;
  return auth !== null && event.type === 'SOCKET.CLOSE' && auth.refreshCodes.includes((event as unknown as CloseInfo).code);
}

/**
 * An error as the context keeps it: the error itself when `structuredClone` can copy it (nearly always), else a
 * plain copy of its name, message and stack (an app error whose `cause` holds a function or a Response, say). The
 * `error` event still carries the original.
 */
function asData(error: Error): Error {
  if (typeof structuredClone !== 'function') return error;
  try {
    structuredClone(error);
    return error;
  } catch {
    const copy = new Error(error.message);
    copy.name = error.name;
    copy.stack = error.stack;
    return copy;
  }
}

/** The close that lost the attempt is fatal under `closeCodes` (the defaults when undefined). */
export function isFatal(event: ConnectionEvent | { type: string }, closeCodes: CloseCodesOption | undefined): boolean {
  const close = closeInfoOf(event);
  return verdictFor(close.code, close.reason, closeCodes) === 'fatal';
}

/** The retry about to be waited for: its number and delay (a `retry-later` close waits on the slower pace). */
export function nextRetry(context: ConnectionContext, closeCodes: CloseCodesOption | undefined, random: () => number): { retries: number; retryDelay: number } {
  const retries = context.retries + 1;
  const close = context.lastClose;
  const later = close !== null && verdictFor(close.code, close.reason, closeCodes) === 'retry-later';
  return { retries, retryDelay: backoffDelay(retries, context.policy.backoff, later ? 'later' : 'normal', random) };
}

export type ConnectionMachine = typeof connectionMachine;
