import { once } from 'node:events';
import { type ActorRefFrom, type InspectionEvent, type SnapshotFrom, assign, createActor, sendTo, setup, waitFor } from 'xstate';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type ConnectionLogicCommand,
  type ConnectionLogicEvent,
  type ConnectionLogicInput,
  connectionLogic as browserConnectionLogic,
  type connectionMachine,
  isSocketchartError,
  jsonCodec,
  statePathOf,
} from '../../src/index.js';
import { connectionLogic, connectionOf } from '../../src/node.js';
import { type TestServer, createTestServer } from '../../src/testing/index.js';

// Retries happen at once (retryWait), so no test waits out a backoff.
const fast = { retryWait: () => Promise.resolve(), random: () => 0 } as const;

type Chat = { type: 'say'; text: string };
type Event = ConnectionLogicEvent<Chat, Chat>;

/**
 * An app's own machine: `online` invokes the connection and turns the app's events into commands; every
 * `socketchart.*` event is recorded at the root, so events that arrive after `online` was left are seen too.
 */
const app = setup({
  types: {
    context: {} as { connection: ConnectionLogicInput<Chat, Chat>; events: Event[]; failure: unknown },
    input: {} as ConnectionLogicInput<Chat, Chat>,
    events: {} as Event | { type: 'command'; command: ConnectionLogicCommand<Chat> | { type: string } } | { type: 'leave' },
  },
  actors: { connection: connectionLogic },
}).createMachine({
  id: 'app',
  context: ({ input }) => ({ connection: input, events: [], failure: null }),
  initial: 'online',
  states: {
    online: {
      invoke: {
        id: 'conn',
        src: 'connection',
        input: ({ context }) => context.connection,
        onError: { target: 'failed', actions: assign({ failure: ({ event }) => event.error }) },
      },
      on: {
        command: { actions: sendTo('conn', ({ event }) => event.command as ConnectionLogicCommand<Chat>) },
        leave: 'offline',
      },
    },
    offline: {},
    failed: {},
  },
  on: {
    'socketchart.*': { actions: assign({ events: ({ context, event }) => [...context.events, event as Event] }) },
  },
});

type App = ActorRefFrom<typeof app>;

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!();
});

async function server(): Promise<TestServer> {
  const s = await createTestServer();
  cleanup.push(() => s.close());
  return s;
}

function start(input: ConnectionLogicInput<Chat, Chat>): App {
  const actor = createActor(app, { input: { ...fast, ...input } as ConnectionLogicInput<Chat, Chat> });
  cleanup.push(() => actor.stop());
  actor.start();
  return actor;
}

const command = (actor: App, c: ConnectionLogicCommand<Chat> | { type: string }) => actor.send({ type: 'command', command: c });

/** The recorded events of `type`. */
function eventsOf<T extends Event['type']>(actor: App, type: T): Array<Extract<Event, { type: T }>> {
  return actor.getSnapshot().context.events.filter((e): e is Extract<Event, { type: T }> => e.type === type);
}

/** Resolves once `count` events of `type` have been recorded. */
async function nth<T extends Event['type']>(actor: App, type: T, count = 1): Promise<Extract<Event, { type: T }>> {
  await waitFor(actor, () => eventsOf(actor, type).length >= count);
  return eventsOf(actor, type)[count - 1] as Extract<Event, { type: T }>;
}

const transitions = (actor: App) => eventsOf(actor, 'socketchart.statechange').map((e) => `${e.from} -> ${e.to}`);

describe('connectionLogic invoked by an app machine, over a real ws server', () => {
  it('opens, sends (SEND before open is queued), receives decoded messages, and reports every transition from idle', async () => {
    const s = await server();
    const actor = start({ url: s.url(), codec: jsonCodec<Chat, Chat>() });
    // Sent before the socket opens: queued, as conn.send() queues.
    command(actor, { type: 'SEND', data: { type: 'say', text: 'early' } });
    await nth(actor, 'socketchart.open');
    command(actor, { type: 'SEND', data: { type: 'say', text: 'late' } });
    await nth(actor, 'socketchart.message', 2);

    // The codec's output, not the frame.
    expect(eventsOf(actor, 'socketchart.message').map((e) => e.data)).toEqual([
      { type: 'say', text: 'early' },
      { type: 'say', text: 'late' },
    ]);
    expect(s.received).toEqual(['{"type":"say","text":"early"}', '{"type":"say","text":"late"}']);
    // The first transition happens inside the child's start, and still reaches the parent.
    expect(transitions(actor)).toEqual(['idle -> connecting.opening', 'connecting.opening -> open']);
    expect(actor.getSnapshot().context.events.slice(0, 3).map((e) => e.type)).toEqual([
      'socketchart.statechange',
      'socketchart.statechange',
      'socketchart.open',
    ]);
    // Plain data, not the connection's event classes.
    expect(Object.getPrototypeOf(eventsOf(actor, 'socketchart.open')[0])).toBe(Object.prototype);
  });

  it('CLOSE ends the session with a final close event; a later SEND is a drop; RECONNECT starts a new session', async () => {
    const s = await server();
    const actor = start({ url: s.url(), codec: jsonCodec<Chat, Chat>() });
    await nth(actor, 'socketchart.open');
    const socket = [...s.sockets][0]!;
    const serverSaw = once(socket, 'close');

    command(actor, { type: 'CLOSE', code: 4000, reason: 'done for today' });
    const close = await nth(actor, 'socketchart.close');
    expect(close).toMatchObject({ closedBy: { kind: 'user', code: 4000, reason: 'done for today' }, code: 4000, reason: 'done for today', wasClean: true });
    const [code, reason] = await serverSaw;
    expect([code, String(reason)]).toEqual([4000, 'done for today']);
    expect(transitions(actor).at(-1)).toBe('closing -> closed');

    const late = { type: 'say', text: 'too late' } as const;
    command(actor, { type: 'SEND', data: late });
    const drop = await nth(actor, 'socketchart.drop');
    expect(drop).toEqual({ type: 'socketchart.drop', data: JSON.stringify(late), message: late, reason: 'closed' });
    expect(drop.message).toBe(late);

    command(actor, { type: 'RECONNECT' });
    await nth(actor, 'socketchart.open', 2);
    expect(s.accepted).toBe(2);
    expect(actor.getSnapshot().value).toBe('online');
  });

  it('a socket lost by the server is a non-final close (closedBy null, with its code), then the connection reopens by itself', async () => {
    const s = await server();
    const actor = start({ url: s.url() });
    await nth(actor, 'socketchart.open');
    s.closeAll(1012, 'restarting');
    const close = await nth(actor, 'socketchart.close');
    expect(close).toEqual({ type: 'socketchart.close', closedBy: null, code: 1012, reason: 'restarting', wasClean: true });
    await nth(actor, 'socketchart.open', 2);
    expect(transitions(actor)).toContain('open -> reconnecting.backoff');
  });

  it('RECONNECT while open replaces the socket', async () => {
    const s = await server();
    const actor = start({ url: s.url() });
    await nth(actor, 'socketchart.open');
    const first = [...s.sockets][0]!;
    const firstGone = once(first, 'close');
    command(actor, { type: 'RECONNECT' });
    await nth(actor, 'socketchart.open', 2);
    await firstGone;
    expect(s.accepted).toBe(2);
    expect(eventsOf(actor, 'socketchart.close')).toEqual([
      { type: 'socketchart.close', closedBy: null, code: 1006, reason: 'Reconnect requested', wasClean: false },
    ]);
  });

  it('leaving the invoking state closes the socket (1000) and forgets the connection', async () => {
    const s = await server();
    const actor = start({ url: s.url() });
    await nth(actor, 'socketchart.open');
    const child = actor.getSnapshot().children.conn;
    const conn = connectionOf(child);
    expect(conn?.state).toBe('open');
    const serverSaw = once([...s.sockets][0]!, 'close');

    actor.send({ type: 'leave' });
    const [code] = await serverSaw;
    expect(code).toBe(1000);
    expect(actor.getSnapshot().value).toBe('offline');
    expect(actor.getSnapshot().children.conn).toBeUndefined();
    expect(connectionOf(child)).toBeUndefined();
    await conn!.closed();
    expect(conn!.closedBy?.kind).toBe('user');
    // The closing socket's own events describe a child the parent no longer has: none is forwarded.
    expect(eventsOf(actor, 'socketchart.close')).toEqual([]);
    expect(transitions(actor)).toEqual(['idle -> connecting.opening', 'connecting.opening -> open']);
  });

  it('what was still queued when the parent left comes back as drop events, nothing silently lost', async () => {
    const s = await server();
    s.holdHandshakes(true);
    const actor = start({ url: s.url() });
    await s.waitForHeld();
    command(actor, { type: 'SEND', data: 'a' as never });
    command(actor, { type: 'SEND', data: 'b' as never });
    actor.send({ type: 'leave' });
    expect(eventsOf(actor, 'socketchart.drop')).toEqual([
      { type: 'socketchart.drop', data: 'a', message: 'a', reason: 'closed' },
      { type: 'socketchart.drop', data: 'b', message: 'b', reason: 'closed' },
    ]);
  });

  it('the queue bound reports what it pushes out as socketchart.drop', async () => {
    const s = await server();
    s.holdHandshakes(true);
    const actor = start({ url: s.url(), queue: { maxMessages: 1, overflow: 'drop-oldest' } });
    await s.waitForHeld();
    command(actor, { type: 'SEND', data: 'first' as never });
    command(actor, { type: 'SEND', data: 'second' as never });
    expect(eventsOf(actor, 'socketchart.drop')).toEqual([{ type: 'socketchart.drop', data: 'first', message: 'first', reason: 'queue-full' }]);
    s.acceptHeld();
    await nth(actor, 'socketchart.message');
    expect(s.received).toEqual(['second']);
  });

  it('a command the connection refuses is a socketchart.error naming the command; the connection carries on', async () => {
    const s = await server();
    const actor = start({ url: s.url() });
    await nth(actor, 'socketchart.open');

    command(actor, { type: 'SEND', data: 42 as never }); // the raw codec carries strings and binary only
    command(actor, { type: 'CLOSE', code: 1001 }); // reserved for endpoints
    command(actor, { type: 'send', data: 'x' } as { type: string });
    const errors = eventsOf(actor, 'socketchart.error');
    expect(errors.map((e) => [isSocketchartError(e.error) ? e.error.code : e.error, e.command?.type])).toEqual([
      ['ERR_INVALID_DATA', 'SEND'],
      ['ERR_INVALID_CLOSE_CODE', 'CLOSE'],
      ['ERR_INVALID_OPTION', 'send'],
    ]);
    expect(errors[2]!.message).toMatch(/accepts the events SEND, CLOSE, RECONNECT, OPEN; got "send"/);

    command(actor, { type: 'SEND', data: 'still here' as never });
    expect((await nth(actor, 'socketchart.message')).data).toBe('still here');
    expect(connectionOf(actor.getSnapshot().children.conn)?.state).toBe('open');
  });

  it('connection errors (a refused handshake) arrive as socketchart.error', async () => {
    const s = await server();
    s.refuseNext(503);
    const actor = start({ url: s.url() });
    await nth(actor, 'socketchart.open');
    expect(eventsOf(actor, 'socketchart.error')).toHaveLength(1);
    expect(eventsOf(actor, 'socketchart.error')[0]!.error).toBeInstanceOf(Error);
  });

  it('startClosed waits in idle for OPEN', async () => {
    const s = await server();
    const actor = start({ url: s.url(), startClosed: true });
    expect(connectionOf(actor.getSnapshot().children.conn)?.state).toBe('idle');
    expect(s.accepted).toBe(0);
    command(actor, { type: 'OPEN' });
    await nth(actor, 'socketchart.open');
    expect(transitions(actor)).toEqual(['idle -> connecting.opening', 'connecting.opening -> open']);
  });

  it("connectionOf reaches the inner connection's own chart, and the inspect option passes through", async () => {
    const s = await server();
    const inspected: string[] = [];
    const inspect = (e: InspectionEvent) => {
      if (e.type === '@xstate.snapshot' && 'value' in e.snapshot) inspected.push(statePathOf(e.snapshot as SnapshotFrom<typeof connectionMachine>));
    };
    const actor = start({ url: s.url(), inspect });
    await nth(actor, 'socketchart.open');
    const conn = connectionOf(actor.getSnapshot().children.conn)!;
    expect(statePathOf(conn.actor.getSnapshot())).toBe('open');
    expect(conn.metrics.reconnects).toBe(0);
    expect(inspected).toContain('connecting.opening');
    expect(inspected.at(-1)).toBe('open');
    // The callback actor's own snapshot holds only its input.
    expect(actor.getSnapshot().children.conn!.getSnapshot()).toMatchObject({ status: 'active', input: { url: s.url() } });
  });
});

describe('bad input is the child actor error (the parent`s onError), a typed SocketchartError', () => {
  const failure = (input: unknown) => {
    const actor = start(input as ConnectionLogicInput<Chat, Chat>);
    expect(actor.getSnapshot().value).toBe('failed');
    const error = actor.getSnapshot().context.failure;
    expect(isSocketchartError(error)).toBe(true);
    return error as Error & { code: string };
  };

  it('no url', () => {
    const error = failure({});
    expect(error.code).toBe('ERR_INVALID_URL');
    expect(error.message).toMatch(/input has no `url`/);
  });

  it('a url that is not a WebSocket URL', () => {
    expect(failure({ url: 'ftp://127.0.0.1/' }).code).toBe('ERR_INVALID_URL');
  });

  it('a misspelled key, named with its closest', () => {
    const error = failure({ url: 'ws://127.0.0.1:1/', backof: {} });
    expect(error.code).toBe('ERR_INVALID_OPTION');
    expect(error.message).toBe('Unknown option `input.backof`; did you mean `input.backoff`?');
    expect(failure({ uri: 'ws://127.0.0.1:1/' }).message).toMatch(/did you mean `input\.url`\?/);
  });

  it('a bad option value, startClosed included (the logic sets it itself)', () => {
    expect(failure({ url: 'ws://127.0.0.1:1/', backoff: { maxRetries: -1 } }).code).toBe('ERR_INVALID_OPTION');
    expect(failure({ url: 'ws://127.0.0.1:1/', startClosed: 'yes' }).message).toMatch(/startClosed/);
  });

  it('no input object at all', () => {
    const machine = setup({ actors: { connection: connectionLogic } }).createMachine({
      initial: 'on',
      context: { failure: null as unknown },
      states: {
        on: { invoke: { src: 'connection', input: undefined as never, onError: { target: 'failed', actions: assign({ failure: ({ event }) => event.error }) } } },
        failed: {},
      },
    });
    const actor = createActor(machine).start();
    expect(actor.getSnapshot().value).toBe('failed');
    expect(isSocketchartError(actor.getSnapshot().context.failure, 'ERR_INVALID_OPTION')).toBe(true);
  });

  it('without onError, XState escalates it: the parent actor errors', () => {
    const machine = setup({ actors: { connection: connectionLogic } }).createMachine({
      invoke: { src: 'connection', input: { url: 42 } as never },
    });
    const actor = createActor(machine);
    let seen: unknown;
    actor.subscribe({ error: (error) => (seen = error) });
    actor.start();
    expect(actor.getSnapshot().status).toBe('error');
    expect(isSocketchartError(seen, 'ERR_INVALID_URL')).toBe(true);
  });
});

describe('entry points', () => {
  it("socketchart's connectionLogic uses the browser transport: without a global WebSocket it fails with ERR_NO_TRANSPORT", () => {
    const machine = setup({ actors: { connection: browserConnectionLogic } }).createMachine({
      initial: 'on',
      context: { failure: null as unknown },
      states: {
        on: {
          invoke: {
            src: 'connection',
            input: { url: 'ws://127.0.0.1:1/' },
            onError: { target: 'failed', actions: assign({ failure: ({ event }) => event.error }) },
          },
        },
        failed: {},
      },
    });
    const actor = createActor(machine).start();
    if (typeof globalThis.WebSocket === 'function') {
      // Node >= 22 has one: then it is used, as createConnection from 'socketchart' would.
      expect(actor.getSnapshot().value).toBe('on');
      actor.stop();
    } else {
      expect(isSocketchartError(actor.getSnapshot().context.failure, 'ERR_NO_TRANSPORT')).toBe(true);
    }
  });
});
