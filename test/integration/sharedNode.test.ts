/**
 * `createSharedConnection` from 'socketchart/node': Node has no Web Locks, so it is a tab of its own
 * (`shared === false`), over `ws` like the entry's other factories (it threw ERR_NO_TRANSPORT on Node 20 before).
 */
import { afterEach, expect, it } from 'vitest';
import { createSharedConnection } from '../../src/node.js';
import { type TestServer, createTestServer } from '../../src/testing/index.js';

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

it('opens over ws on Node (no global WebSocket needed), echoes, and closes', async () => {
  server = await createTestServer();
  const conn = createSharedConnection<string, string>(server.url());
  expect(conn.shared).toBe(false);
  await conn.opened({ timeout: 5_000 });
  const echoed = new Promise<unknown>((resolve) => conn.addEventListener('message', (e) => resolve(e.data), { once: true }));
  conn.send('hello');
  expect(await echoed).toBe('hello');
  conn.close(1000, 'done');
  expect(await conn.closed()).toMatchObject({ kind: 'user', code: 1000 });
});

it('a closed handle does not open again: open() and reconnect() say so (ERR_CONNECTION_CLOSED), and the socket stays closed', async () => {
  server = await createTestServer();
  const conn = createSharedConnection<string, string>(server.url());
  await conn.opened({ timeout: 5_000 });
  conn.close();
  await conn.closed();
  expect(() => conn.open()).toThrow(expect.objectContaining({ code: 'ERR_CONNECTION_CLOSED', message: expect.stringContaining('createSharedConnection()') }));
  expect(() => conn.reconnect()).toThrow(expect.objectContaining({ code: 'ERR_CONNECTION_CLOSED' }));
  expect(conn.state).toBe('closed');
});
