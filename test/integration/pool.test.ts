import { afterEach, describe, expect, it } from 'vitest';
import { createPool } from '../../src/node.js';
import { createTestServer } from '../../src/testing/index.js';

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
});
