/**
 * The connection chart with its behaviour: every connection runs this one machine. The chart
 * (machines/connection.ts) names what needs the connection's host and leaves it inert; this gives it, once, with
 * `connectionMachine.provide()`. Each implementation finds its connection's host in the chart's context under the
 * `HOST` symbol (not data: `structuredClone` and JSON skip it), because a `provide()` per connection would copy the
 * whole chart (41 KB measured) for every socket.
 */
import { type EventObject, assign, fromCallback, fromPromise } from 'xstate';
import { type AuthVerdict, type ConnectionHost, HOST, type RetryWaitInput, closeInfoOf, connectionMachine, isFatal, nextRetry } from '../../machines/connection.js';
import { socketActor } from '../transports/actor.js';

export const hostedConnectionMachine = connectionMachine.provide({
  actors: {
    socket: socketActor,
    authExchange: fromCallback<EventObject, { host: ConnectionHost }>(({ input, sendBack }) =>
      input.host.authenticate((verdict: AuthVerdict) => sendBack(verdict)),
    ),
    retryWait: fromPromise<void, RetryWaitInput>(({ input, signal }) =>
      input.host.retryWait
        ? Promise.resolve().then(() => input.host.retryWait?.(input.retry, input.delay, signal))
        : new Promise((settle) => signal.addEventListener('abort', () => settle())),
    ),
  },
  guards: {
    closeIsFatal: ({ context, event }) => isFatal(event, context[HOST].closeCodes),
    reconnectDeclined: ({ context, event }) => {
      const decide = context[HOST].shouldReconnect;
      return decide !== undefined && !decide(closeInfoOf(event), context.retries);
    },
    isOffline: ({ context }) => !context[HOST].isOnline(),
    heardSinceProbe: ({ context }) => context[HOST].inboundCount() !== context.inboundAtProbe,
  },
  actions: {
    scheduleRetry: assign(({ context }) => nextRetry(context, context[HOST].closeCodes, () => context[HOST].random())),
    markProbe: assign({ inboundAtProbe: ({ context }) => context[HOST].inboundCount() }),
    sendPing: ({ context }) => context[HOST].sendPing(),
  },
});
