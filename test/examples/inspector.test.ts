/**
 * examples/inspector: the `inspect` option with @statelyai/inspect, run for real on loopback.
 * - websocket.ts: the relay's WebSocket, read by a plain `ws` client, carries the connection's inspection events.
 * - browser.ts: its inspector needs stately.ai in a pop-up, so the window is a stand-in that records what the
 *   inspector opens and posts; the connection itself is real (the browser transport over `ws`'s WebSocket).
 * - the chart's context as inspectors get it: data only.
 */
import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { WebSocket } from 'ws';
import type { InspectionEvent } from 'xstate';
import { connectWithInspector } from '../../examples/inspector/browser.js';
import { run } from '../../examples/inspector/websocket.js';
import { createConnection } from '../../src/node.js';
import { createTestServer } from '../../src/testing/index.js';

/** An inspection event as @statelyai/inspect sends it (serialized). */
interface Sent {
  type: string;
  name?: string;
  sessionId: string;
  definition?: string;
  event?: { type: string; code?: number; wasClean?: boolean };
  snapshot?: { value?: unknown; context?: Record<string, unknown>; input?: unknown };
}

const OPENING = { attempt: { connecting: 'opening' } };
const OPEN = { attempt: { open: { heartbeat: 'resting' } } };
/** The browser transport can't send ping frames: no heartbeat unless one is configured. */
const OPEN_NO_HEARTBEAT = { attempt: { open: { heartbeat: 'off' } } };
const CONTEXT_KEYS = ['attempts', 'authRefreshed', 'closeRequest', 'closedBy', 'inboundAtProbe', 'lastClose', 'lastError', 'policy', 'reopen', 'retries', 'retryDelay'];

async function waitFor(condition: () => boolean, what: string, ms = 2_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Sockets, listening servers and timers of this process. */
function handles() {
  const info = process.getActiveResourcesInfo();
  return {
    sockets: info.filter((r) => r === 'TCPSocketWrap').length,
    servers: info.filter((r) => r === 'TCPServerWrap').length,
    timers: info.filter((r) => r === 'Timeout').length,
  };
}

/** The root connection actor's session, from its `@xstate.actor` event. */
function rootSession(events: Sent[]): string | undefined {
  return events.find((e) => e.type === '@xstate.actor' && e.name === 'connection')?.sessionId;
}

function rootSnapshots(events: Sent[]): Sent[] {
  const session = rootSession(events);
  return events.filter((e) => e.type === '@xstate.snapshot' && e.sessionId === session);
}

/** The root's state values in order, repeats (heartbeat and context-only steps) collapsed. */
function stateValues(events: Sent[]): unknown[] {
  const values: unknown[] = [];
  for (const e of rootSnapshots(events)) {
    const value = e.snapshot?.value;
    if (JSON.stringify(value) !== JSON.stringify(values.at(-1))) values.push(value);
  }
  return values;
}

/** Every value of a `host` key, at any depth. */
function hostValues(value: unknown, found: unknown[] = []): unknown[] {
  if (typeof value !== 'object' || value === null) return found;
  for (const [key, inner] of Object.entries(value)) {
    if (key === 'host') found.push(inner);
    hostValues(inner, found);
  }
  return found;
}

/** What an inspector is sent of the chart's context: its data, never the host. */
function expectContextsWithoutHost(events: Sent[]): void {
  const contexts = events.flatMap((e) => (e.snapshot?.context ? [e.snapshot.context] : []));
  expect(contexts.length).toBeGreaterThan(3);
  for (const context of contexts) expect(Object.keys(context).sort()).toEqual(CONTEXT_KEYS);
}

/** What a failed test leaves running is stopped here (a passing test has stopped it already). */
const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  vi.unstubAllGlobals();
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe('examples/inspector/websocket.ts', () => {
  it('the relay serves the connection chart to a WebSocket client: open, the drop, reopen, closed; stop() leaves nothing running', async () => {
    const before = handles();
    const relayPort = await freePort();
    const lines: string[] = [];
    const example = await run({ relayPort, dropEvery: 100, log: (line) => lines.push(line) });
    let stopped = false;
    cleanups.push(() => stopped || example.stop());
    expect(lines).toEqual([`inspector: http://localhost:${relayPort}   watching: ${example.echo?.url()}`]);

    const client = new WebSocket(`ws://127.0.0.1:${relayPort}`);
    cleanups.push(() => client.terminate());
    const received: Sent[] = [];
    client.on('message', (data) => received.push(JSON.parse(String(data)) as Sent));
    await once(client, 'open');

    // Open, dropped by the echo server's chaos (1006, no close frame), retried, open again.
    await waitFor(() => stateValues(received).length >= 6, 'open, drop and reopen');
    const session = rootSession(received);
    expect(session).toBe(example.conn.actor.sessionId);
    const root = received.find((e) => e.sessionId === session && e.type === '@xstate.actor');
    expect(JSON.parse(root?.definition ?? '{}')).toMatchObject({ id: 'connection', initial: 'idle' });
    expect(stateValues(received).slice(0, 6)).toEqual(['idle', OPENING, OPEN, { reconnecting: 'backoff' }, OPENING, OPEN]);
    const snapshots = rootSnapshots(received);
    const dropped = snapshots.find((e) => JSON.stringify(e.snapshot?.value) === '{"reconnecting":"backoff"}');
    expect(dropped?.event).toMatchObject({ type: 'SOCKET.CLOSE', code: 1006, wasClean: false });
    expect(dropped?.snapshot?.context).toMatchObject({ attempts: 1, lastClose: { code: 1006 } });
    const reopened = snapshots.filter((e) => JSON.stringify(e.snapshot?.value) === JSON.stringify(OPEN))[1];
    expect(reopened?.snapshot?.context).toMatchObject({ attempts: 2 });
    // The socket actor of each attempt is inspected too, as a child of the connection.
    const sockets = received.filter((e) => e.type === '@xstate.actor' && e.name === 'socket');
    expect(sockets.length).toBeGreaterThanOrEqual(2);
    expect(sockets.map((e) => (e as Sent & { parentId?: string }).parentId)).toEqual(sockets.map(() => session));

    await example.stop();
    stopped = true;
    // stop() waits for `closed` and lets its snapshot out before stopping the inspector.
    await waitFor(() => stateValues(received).at(-1) === 'closed', 'the closed snapshot');
    expect(rootSnapshots(received).at(-1)?.snapshot?.context).toMatchObject({
      closedBy: { kind: 'user', code: 1000, reason: 'example stopped' },
    });

    expectContextsWithoutHost(received);
    // What still names the host (the socket actor's input, the init event's input) is its summary only.
    const url = example.echo?.url();
    expect(hostValues(received).length).toBeGreaterThan(0);
    for (const host of hostValues(received)) expect(host).toEqual({ url, transport: 'node' });

    client.close();
    await once(client, 'close');
    // No socket, server or timer left behind: not the inspector's 5 s retry, nor the relay, nor the connection's.
    await waitFor(() => {
      const now = handles();
      return now.sockets <= before.sockets && now.servers <= before.servers && now.timers <= before.timers;
    }, `handles back to ${JSON.stringify(before)}; now ${JSON.stringify(handles())}`, 1_000);
    // The relay's port is free again: nothing is still listening.
    const probe = new WebSocket(`ws://127.0.0.1:${relayPort}`);
    const [error] = (await once(probe, 'error')) as [NodeJS.ErrnoException];
    expect(error.code).toBe('ECONNREFUSED');
  });
});

describe('examples/inspector/browser.ts (the inspector window is a stand-in: nothing from stately.ai)', () => {
  it('opens the inspector only on the click, replays the earlier events once it says it is connected, without host', async () => {
    const server = await createTestServer();
    cleanups.push(() => server.close());
    const opened: string[] = [];
    const posted: Sent[] = [];
    const inspectorWindow = { postMessage: (message: Sent) => posted.push(message) };
    const page = Object.assign(new EventTarget(), {
      open: (url: string) => (opened.push(url), inspectorWindow),
      requestIdleCallback: (callback: () => void) => setTimeout(callback, 0),
    });
    vi.stubGlobal('window', page);
    vi.stubGlobal('WebSocket', WebSocket); // the browser transport over ws's WHATWG-style WebSocket

    const { conn, openInspectorOn } = connectWithInspector(server.url());
    cleanups.push(() => conn.close());
    const button = new EventTarget();
    openInspectorOn(button as unknown as HTMLElement);
    await conn.opened();
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(opened).toEqual([]); // autoStart: false, no pop-up before the click

    button.dispatchEvent(new Event('click'));
    button.dispatchEvent(new Event('click'));
    expect(opened).toEqual(['https://stately.ai/inspect']); // once
    expect(posted).toEqual([]); // the window has not said it is connected yet

    page.dispatchEvent(new MessageEvent('message', { data: { type: '@statelyai.connected' } }));
    expect(rootSession(posted)).toBe(conn.actor.sessionId);
    expect(stateValues(posted)).toEqual(['idle', OPENING, OPEN_NO_HEARTBEAT]);

    // After the replay, new events go straight to the window.
    conn.close(1000, 'bye');
    await conn.closed();
    await waitFor(() => stateValues(posted).at(-1) === 'closed', 'the closed snapshot, posted live');
    expect(stateValues(posted)).toEqual(['idle', OPENING, OPEN_NO_HEARTBEAT, { attempt: 'closing' }, 'closed']);

    expectContextsWithoutHost(posted);
    expect(hostValues(posted).length).toBeGreaterThan(0);
    for (const host of hostValues(posted)) expect(host).toEqual({ url: server.url(), transport: 'browser' });
  });
});

describe("the chart's context, as inspectors see it", () => {
  it('is data: structuredClone copies it whole, JSON carries every key, and the host stays out of both', async () => {
    const server = await createTestServer();
    const events: InspectionEvent[] = [];
    const conn = createConnection(server.url(), { inspect: { next: (event) => events.push(event) }, closeCodes: () => 'retry' });
    await conn.opened();
    conn.close(4000, 'bye');
    await conn.closed();
    await server.close();

    const root = events.filter((e) => e.type === '@xstate.snapshot' && e.actorRef === conn.actor);
    expect(root.length).toBeGreaterThan(3);
    for (const event of root) {
      const context = (event as unknown as { snapshot: { context: Record<string, unknown> } }).snapshot.context;
      const copy = structuredClone(context);
      expect(Object.keys(copy).sort()).toEqual(CONTEXT_KEYS);
      expect(JSON.parse(JSON.stringify(context))).toEqual(JSON.parse(JSON.stringify(copy)));
      expect(copy).not.toHaveProperty('host');
    }
    const last = structuredClone(conn.actor.getSnapshot().context);
    expect(last.closedBy).toEqual({ kind: 'user', code: 4000, reason: 'bye', wasClean: true });
    expect(last.policy.closeTimeout).toBeGreaterThan(0);
  });
});
