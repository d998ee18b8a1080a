/**
 * A price-ticker app whose own statechart owns its connection: `watching` invokes `connectionLogic`, so the socket
 * opens when the app starts watching and closes when it stops, and the connection's events are this machine's
 * events.
 */
import { assign, sendTo, setup } from 'xstate';
// in an app: from 'socketchart/node' (Node) or 'socketchart' (browsers)
import { type ConnectionLogicEvent, type DropReason, connectionLogic, jsonCodec } from '../../src/node.js';

export type ServerMessage = { type: 'quote'; symbol: string; price: number };
export type ClientMessage = { type: 'subscribe'; symbol: string };

/** What the app shows: the ticker's own status words, not the connection's state paths. */
export type Status = 'stopped' | 'connecting' | 'live' | 'reconnecting' | 'disconnected' | 'failed';

export interface TickerContext {
  url: string;
  symbol: string;
  status: Status;
  quotes: number[];
  /**
   * What the connection reported it could not deliver (or cannot vouch for): a subscription still queued when the
   * app stopped watching (`closed`), one written to a socket that was then lost (`unconfirmed`).
   */
  drops: Array<{ message: ClientMessage; reason: DropReason }>;
  problem: string | null;
}

export type TickerEvent =
  | ConnectionLogicEvent<ServerMessage, ClientMessage>
  | { type: 'WATCH'; symbol: string }
  | { type: 'STOP' };

/** The connection's state path as the ticker's status word. */
function statusOf(path: string): Status {
  if (path === 'open') return 'live';
  if (path.startsWith('reconnecting')) return 'reconnecting';
  if (path === 'closing' || path === 'closed') return 'disconnected';
  return 'connecting';
}

export const tickerMachine = setup({
  types: {
    context: {} as TickerContext,
    events: {} as TickerEvent,
    input: {} as { url: string },
  },
  actors: { connection: connectionLogic },
  actions: {
    subscribe: sendTo('conn', ({ context }) => ({ type: 'SEND', data: { type: 'subscribe', symbol: context.symbol } })),
  },
}).createMachine({
  id: 'ticker',
  context: ({ input }) => ({ url: input.url, symbol: '', status: 'stopped', quotes: [], drops: [], problem: null }),
  initial: 'stopped',
  states: {
    stopped: {
      entry: assign({ status: 'stopped' }),
      on: { WATCH: { target: 'watching', actions: assign({ symbol: ({ event }) => event.symbol, quotes: [] }) } },
    },
    watching: {
      invoke: {
        id: 'conn',
        src: 'connection',
        input: ({ context }) => ({ url: context.url, codec: jsonCodec<ServerMessage, ClientMessage>(), backoff: { initialDelay: 50 } }),
        // Bad input (a bad URL, an unknown option) is the child's error: a SocketchartError with a code.
        onError: { target: 'failed', actions: assign({ problem: ({ event }) => String((event.error as Error).message) }) },
      },
      // Sent before the socket opens: queued, and the first thing on the wire once it does.
      entry: 'subscribe',
      on: {
        'socketchart.statechange': { actions: assign({ status: ({ event }) => statusOf(event.to) }) },
        'socketchart.message': {
          guard: ({ context, event }) => event.data.symbol === context.symbol,
          actions: assign({ quotes: ({ context, event }) => [...context.quotes, event.data.price] }),
        },
        'socketchart.close': [
          {
            // closedBy is set only when the session ended for good.
            guard: ({ event }) => event.closedBy !== null,
            target: 'stopped',
            actions: assign({ problem: ({ event }) => `closed by ${event.closedBy?.kind} (${event.code})` }),
          },
          // null: the socket was lost and the connection is already retrying. The next socket starts with no
          // subscription on the server, so one is queued for it.
          { actions: 'subscribe' },
        ],
        STOP: 'stopped',
      },
    },
    failed: { entry: assign({ status: 'failed' }) },
  },
  on: {
    // Handled at the root, so the drops of what was still queued when `watching` was left still arrive.
    'socketchart.drop': {
      actions: assign({ drops: ({ context, event }) => [...context.drops, { message: event.message, reason: event.reason }] }),
    },
  },
});
