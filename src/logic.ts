/**
 * The connection as XState v5 actor logic, for apps whose own machine should own it:
 * `invoke: { id: 'conn', src: connectionLogic, input: { url, ...options } }`.
 *
 * Built on the public `Connection` API with `fromCallback`: the connection lives exactly as long as the invoking
 * state, its events reach the parent as `socketchart.*` events, and the parent drives it with `SEND`, `CLOSE`,
 * `RECONNECT` and `OPEN`.
 */
import { type AnyActorRef, type CallbackActorLogic, fromCallback } from 'xstate';
import type { ClosedReason } from '../machines/connection.js';
import type { Connection } from './connection.js';
import type { SendData } from './data.js';
import { SocketchartError, describe, invalidOption } from './errors.js';
import type { ConnectionEventMap } from './events.js';
import { CONNECTION_OPTION_KEYS, type ConnectionOptions, type PerAttempt } from './options.js';
import type { DropReason } from './policies/queue.js';
import { flag, knownKeys } from './validate.js';

/** What `invoke`'s `input` takes: the URL (or a function called before every attempt) and any connection option. */
export type ConnectionLogicInput<In = unknown, Out = unknown> = ConnectionOptions<In, Out> & {
  url: PerAttempt<string | URL>;
};

/** What the parent sends the child, e.g. `sendTo('conn', { type: 'SEND', data })`. */
export type ConnectionLogicCommand<Out = unknown> =
  /** `conn.send(data)`: sent now while open, queued otherwise (bounded by `queue`), a drop after `CLOSE`. */
  | { type: 'SEND'; data: Out }
  /** `conn.close(code, reason)`: ends the session; queued messages come back as `socketchart.drop`. */
  | { type: 'CLOSE'; code?: number; reason?: string }
  /** `conn.reconnect()`: a new socket now, skipping any backoff; also restarts a closed session. */
  | { type: 'RECONNECT' }
  /** `conn.open()`: leaves `idle` (input `startClosed: true`) or `closed`. */
  | { type: 'OPEN' };

/**
 * What the child sends its parent: each of the connection's events as `socketchart.<event>`, its fields as plain
 * data (no classes, no `target`), so they can be logged, inspected and serialized.
 */
export type ConnectionLogicEvent<In = unknown, Out = unknown> =
  | { type: 'socketchart.open' }
  /** A decoded (and, with `schema`, validated) message: the codec's output, not the frame. */
  | { type: 'socketchart.message'; data: In }
  /**
   * A socket closed. `closedBy` is set when the session ended (`closed`: no reconnect follows, unless an `OPEN` came
   * while it was closing: then the next session has already begun, its `socketchart.statechange` to
   * `connecting.opening` just before) and `null` when the connection will reconnect on its own (the socket dropped,
   * the server restarted): then `code`/`reason` say why.
   */
  | { type: 'socketchart.close'; closedBy: ClosedReason | null; code: number; reason: string; wasClean: boolean }
  /** The chart moved; `from`/`to` are state paths such as `'connecting.opening'` and `'open'`. */
  | { type: 'socketchart.statechange'; from: string; to: string }
  /** A message that will not be delivered: `message` is what was sent, `data` its encoded frame. */
  | { type: 'socketchart.drop'; data: SendData; message: Out; reason: DropReason }
  /**
   * The connection reported an error (a refused handshake, `ERR_CONNECT_TIMEOUT`, ...), or a command was refused:
   * then `command` is that command and `error` the `SocketchartError` (`ERR_INVALID_DATA` for a `SEND` the codec
   * cannot encode, `ERR_INVALID_CLOSE_CODE` for a bad `CLOSE`, `ERR_INVALID_OPTION` for an unknown event type).
   */
  | { type: 'socketchart.error'; error: Error; message: string; command?: ConnectionLogicCommand<Out> | { type: string } }
  | { type: 'socketchart.reconnecting'; attempt: number; delay: number }
  | { type: 'socketchart.giveup'; closedBy: ClosedReason }
  /** An inbound frame the codec could not decode or the schema refused; it is not delivered as a message. */
  | { type: 'socketchart.invalid-message'; data: unknown; problem: unknown }
  | { type: 'socketchart.drain'; bufferedAmount: number };

/** The logic's type: what `setup({ actors: { conn: connectionLogic } })` sees. */
export type ConnectionLogic = CallbackActorLogic<ConnectionLogicCommand, ConnectionLogicInput>;

/** Per running child; a WeakMap so a stopped child and its connection are collected with the parent's snapshot. */
const connections = new WeakMap<AnyActorRef, Connection<unknown, unknown>>();

/**
 * The `Connection` a `connectionLogic` child runs, for what events do not carry: `readyState`, `metrics`,
 * `request()`, `on(type, ...)`, and `.actor`, the connection's own chart (for `useSelector` or `waitFor`). A callback
 * actor's own snapshot is empty, so this is the way in: `connectionOf(snapshot.children.conn)`.
 * Undefined when `ref` is not a running `connectionLogic` child (stopped, or its input was refused).
 */
export function connectionOf<In = unknown, Out = unknown>(ref: AnyActorRef | undefined | null): Connection<In, Out> | undefined {
  return ref ? (connections.get(ref) as Connection<In, Out> | undefined) : undefined;
}

const INPUT_KEYS = [...CONNECTION_OPTION_KEYS, 'url'];

const COMMANDS = ['SEND', 'CLOSE', 'RECONNECT', 'OPEN'] as const;

/** Builds `connectionLogic` for an entry point from its `createConnection` (and so its default transport). */
export function connectionLogicFactory(
  create: <In, Out>(url: PerAttempt<string | URL>, options: ConnectionOptions<In, Out>) => Connection<In, Out>,
): ConnectionLogic {
  return fromCallback<ConnectionLogicCommand, ConnectionLogicInput>(({ input, self, sendBack, receive }) => {
    // A throw here is the child's error: the parent gets it as `xstate.error.actor.<id>` (handle it with onError).
    const { url, startClosed, options } = checkInput(input);
    // Started closed and opened below, once the listeners are on: otherwise `idle -> connecting.opening` would fire
    // inside create(), before the parent could hear it.
    const conn = create<unknown, unknown>(url, { ...options, startClosed: true });
    connections.set(self, conn);
    const send = (event: ConnectionLogicEvent) => sendBack(event);

    const forward: { [K in keyof ConnectionEventMap]: (event: ConnectionEventMap[K]) => void } = {
      open: () => send({ type: 'socketchart.open' }),
      message: (e) => send({ type: 'socketchart.message', data: e.data }),
      close: (e) => send({ type: 'socketchart.close', closedBy: e.closedBy ?? null, code: e.code, reason: e.reason, wasClean: e.wasClean }),
      statechange: (e) => send({ type: 'socketchart.statechange', from: e.from, to: e.to }),
      drop: (e) => send({ type: 'socketchart.drop', data: e.data, message: e.message, reason: e.reason }),
      error: (e) => send({ type: 'socketchart.error', error: e.error, message: e.message }),
      reconnecting: (e) => send({ type: 'socketchart.reconnecting', attempt: e.attempt, delay: e.delay }),
      giveup: (e) => send({ type: 'socketchart.giveup', closedBy: e.closedBy }),
      'invalid-message': (e) => send({ type: 'socketchart.invalid-message', data: e.data, problem: e.problem }),
      drain: (e) => send({ type: 'socketchart.drain', bufferedAmount: e.bufferedAmount }),
    };
    const types = Object.keys(forward) as Array<keyof ConnectionEventMap>;
    for (const type of types) conn.addEventListener(type, forward[type] as (event: unknown) => void);

    receive((command) => {
      // A command that throws must not escape: a throwing callback actor errors without running its cleanup, which
      // would leave the socket open with nobody to close it. The refusal goes to the parent instead.
      try {
        run(conn, command);
      } catch (error) {
        const cause = error instanceof Error ? error : new Error(String(error));
        send({ type: 'socketchart.error', error: cause, message: cause.message, command });
      }
    });

    if (!startClosed) conn.open();

    return () => {
      connections.delete(self);
      // The parent has left the invoking state: only the drops of what was still queued reach it (as it leaves),
      // so nothing goes unreported; the closing socket's statechange and close events would describe a child the
      // parent no longer has.
      for (const type of types) if (type !== 'drop') conn.removeEventListener(type, forward[type] as (event: unknown) => void);
      conn.close();
    };
  });
}

function run(conn: Connection<unknown, unknown>, command: ConnectionLogicCommand | { type: string }): void {
  switch (command.type) {
    case 'SEND':
      conn.send((command as { data: unknown }).data);
      return;
    case 'CLOSE': {
      const { code, reason } = command as { code?: number; reason?: string };
      conn.close(code, reason);
      return;
    }
    case 'RECONNECT':
      conn.reconnect();
      return;
    case 'OPEN':
      conn.open();
      return;
  }
  throw new SocketchartError(
    'ERR_INVALID_OPTION',
    `connectionLogic accepts the events ${COMMANDS.join(', ')}; got ${describe(command.type)}. Send e.g. { type: 'SEND', data }.`,
  );
}

function checkInput(input: unknown): { url: PerAttempt<string | URL>; startClosed: boolean; options: ConnectionOptions<unknown, unknown> } {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw invalidOption('input', "an object { url, ...options }: invoke: { src: connectionLogic, input: { url: 'wss://...' } }", input);
  }
  knownKeys('input', input, INPUT_KEYS);
  const { url, startClosed, ...options } = input as ConnectionLogicInput;
  if (url === undefined) {
    throw new SocketchartError('ERR_INVALID_URL', "connectionLogic's input has no `url`: invoke it with input: { url: 'wss://example.com/socket', ...options }.");
  }
  return { url, startClosed: flag('startClosed', startClosed, false), options };
}
