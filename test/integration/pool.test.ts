import { afterEach, describe, expect, it } from 'vitest';
import { createPool } from '../../src/node.js';
import { type Connection, type ConnectionSnapshot, statePathOf } from '../../src/index.js';
import { createTestServer } from '../../src/testing/index.js';
import { nodeTransport } from '../../src/transports/node.js';
import type { Transport } from '../../src/transports/types.js';

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!();
});

describe('connection pool', () => {
  it('spreads sends round-robin, broadcasts to all, and reports all open / degraded / down', async () => {
    const perSocket = new Map<unknown, string[]>();
    const server = await createTestServer({
      onMessage: (socket, data) => perSocket.set(socket, [...(perSocket.get(socket) ?? []), data.toString()]),
    });
    cleanup.push(() => server.close());
    const pool = createPool(server.url(), { size: 3, retryWait: () => Promise.resolve(), heartbeat: false });
    cleanup.push(() => pool.close());
    const states: string[] = [];
    pool.addEventListener('statechange', (e) => states.push(e.to));
    await pool.opened(3);
    expect(pool.state).toBe('open');
    for (const m of ['a', 'b', 'c', 'd', 'e', 'f']) pool.send(m);
    pool.broadcast('all');
    await new Promise<void>((resolve) => {
      const poll = () => ([...perSocket.values()].flat().length === 9 ? resolve() : setTimeout(poll, 2));
      poll();
    });
    expect([...perSocket.values()].map((list) => list.length).sort()).toEqual([3, 3, 3]);
    expect([...perSocket.values()].every((list) => list.at(-1) === 'all')).toBe(true);

    server.refuseNext(503, 100);
    server.dropAll();
    await new Promise<void>((resolve) => {
      const poll = () => (pool.state === 'down' ? resolve() : setTimeout(poll, 2));
      poll();
    });
    expect(states).toContain('degraded');
    pool.send('while-down');
    expect(pool.connections.reduce((n, c) => n + c.metrics.queueLength, 0)).toBe(1);
  });

  it('rejects a bad size', () => {
    expect(() => createPool('ws://127.0.0.1:1', { size: 0 })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_OPTION' }));
  });

  it('refuses an unknown option, naming the closest key, its own `size` included', () => {
    const typos: Array<[Record<string, unknown>, string]> = [
      [{ sise: 2 }, 'size'],
      [{ Size: 2 }, 'size'],
      [{ size: 2, heartbaet: false }, 'heartbeat'],
      [{ reconectTimeout: 100 }, 'connectTimeout'],
    ];
    for (const [options, near] of typos) {
      const typo = Object.keys(options).find((key) => key !== 'size') ?? '';
      expect(() => createPool('ws://127.0.0.1:1', options)).toThrow(
        expect.objectContaining({ code: 'ERR_INVALID_OPTION', message: `Unknown option \`${typo}\`; did you mean \`${near}\`?` }),
      );
    }
  });

  it("is one actor: the connections' charts are its children, in one system, all seen by one inspect", async () => {
    const server = await createTestServer();
    cleanup.push(() => server.close());
    const inspected = new Map<unknown, string[]>();
    const pool = createPool(server.url(), {
      size: 3,
      heartbeat: false,
      inspect: (event) => {
        // Only the pool's children are connection charts (the pool itself and the socket actors are not).
        if (event.type !== '@xstate.snapshot' || (event.actorRef as { _parent?: { logic: { id: string } } })._parent?.logic.id !== 'pool') return;
        const list = inspected.get(event.actorRef) ?? [];
        list.push(statePathOf(event.snapshot as ConnectionSnapshot));
        inspected.set(event.actorRef, list);
      },
    });
    cleanup.push(() => pool.close());
    const causes: string[][] = pool.connections.map(() => []);
    pool.connections.forEach((conn, i) => conn.addEventListener('statechange', (e) => causes[i]!.push(`${e.from}->${e.to} by ${e.event.type}`)));
    await pool.opened(3);

    const children = Object.values(pool.actor.getSnapshot().children);
    expect(children).toHaveLength(3);
    for (const conn of pool.connections) {
      expect(children).toContain(conn.actor);
      expect(conn.actor.system).toBe(pool.actor.system);
      expect(conn.actor._parent).toBe(pool.actor);
      expect(inspected.get(conn.actor)).toContain('open');
    }
    for (const list of causes) expect(list).toEqual(['connecting.opening->open by SOCKET.OPEN']);

    pool.close(1000, 'done');
    await Promise.all(pool.connections.map((conn) => conn.closed()));
    for (const conn of pool.connections) expect(conn.closedBy).toMatchObject({ kind: 'user', code: 1000, wasClean: true });
    expect(pool.actor.getSnapshot().status).toBe('active');
  });

  it("a connection whose chart fails ends alone: the pool's actor and the other connections go on", async () => {
    const server = await createTestServer();
    cleanup.push(() => server.close());
    const pool = createPool(server.url(), { size: 2, heartbeat: false });
    cleanup.push(() => pool.close());
    await pool.opened(2);
    const [broken, healthy] = pool.connections as [Connection, Connection];
    const errors: unknown[] = [];
    broken.addEventListener('error', (e) => errors.push(e.error));
    // A malformed event (no `error`) makes the chart's own action throw: the chart fails.
    broken.actor.send({ type: 'SOCKET.FAIL' } as never);
    expect(broken.actor.getSnapshot().status).toBe('error');
    expect(broken.readyState).toBe(3);
    expect(broken.closedBy?.kind).toBe('error');
    expect(errors).toHaveLength(1);
    expect(pool.actor.getSnapshot().status).toBe('active');
    expect(healthy.readyState).toBe(1);
    expect(pool.state).toBe('degraded');
    healthy.send('still here');
  });

  it('a connection whose host fails after a transition is stopped alone, as a child of the pool', async () => {
    const server = await createTestServer();
    cleanup.push(() => server.close());
    let sockets = 0;
    const transport: Transport = {
      ...nodeTransport,
      open: (request, sink) => {
        const socket = nodeTransport.open(request, sink);
        if (++sockets === 1) {
          // The first connection's socket throws on write: its open sequence writes the queued message.
          socket.send = () => {
            throw new Error('write exploded');
          };
        }
        return socket;
      },
    };
    const pool = createPool(server.url(), { size: 2, heartbeat: false, transport, unconfirmed: false, startClosed: true });
    cleanup.push(() => pool.close());
    const [broken, healthy] = pool.connections as [Connection, Connection];
    broken.send('queued');
    broken.open();
    healthy.open();
    await broken.closed();
    await healthy.opened();
    expect(broken.closedBy?.kind).toBe('error');
    expect(broken.readyState).toBe(3);
    expect(Object.keys(pool.actor.getSnapshot().children)).toEqual([healthy.actor.id]);
    expect(pool.actor.getSnapshot().status).toBe('active');
    expect(healthy.readyState).toBe(1);
  });
});
