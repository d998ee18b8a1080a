/**
 * Every error a connection reports is a SocketchartError with a stable code, also when it comes from outside the
 * library (README "Errors"): the transport's own error and an app provider's failure are the `cause`.
 */
import { createServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { isSocketchartError } from '../../src/index.js';
import { createConnection } from '../../src/node.js';
import { createTestServer } from '../../src/testing/index.js';

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!();
});

/** A port on 127.0.0.1 nothing listens on (it was free a moment ago). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function firstError(conn: ReturnType<typeof createConnection>): Promise<unknown> {
  return new Promise((resolve) => conn.addEventListener('error', (e) => resolve(e.error), { once: true }));
}

describe('errors from outside the library are typed', () => {
  it('a refused handshake (HTTP 503) is ERR_TRANSPORT with the transport message, its error the cause', async () => {
    const server = await createTestServer();
    cleanup.push(() => server.close());
    server.refuseNext(503, 1);
    const conn = createConnection(server.url(), { heartbeat: false });
    cleanup.push(() => conn.close());
    const error = await firstError(conn);
    expect(isSocketchartError(error)).toBe(true);
    expect(error).toMatchObject({ code: 'ERR_TRANSPORT', message: 'Unexpected server response: 503' });
    expect((error as Error).cause).toBeInstanceOf(Error);
  });

  it('a refused TCP connection is ERR_TRANSPORT, the system error (ECONNREFUSED) its cause', async () => {
    const conn = createConnection(`ws://127.0.0.1:${await closedPort()}/`, { heartbeat: false });
    cleanup.push(() => conn.close());
    const error = await firstError(conn);
    expect(error).toMatchObject({ code: 'ERR_TRANSPORT' });
    expect((error as Error).cause).toMatchObject({ code: 'ECONNREFUSED' });
  });

  it("an app's URL provider that rejects is ERR_PROVIDER_FAILED, the app's error its cause", async () => {
    const failure = new Error('token service down');
    const conn = createConnection(() => Promise.reject(failure), { heartbeat: false });
    cleanup.push(() => conn.close());
    const error = await firstError(conn);
    expect(error).toMatchObject({ code: 'ERR_PROVIDER_FAILED', message: 'token service down' });
    expect((error as Error).cause).toBe(failure);
  });
});
