/**
 * The memory transport's peer plays every socket event on its own (what a hand-written replay needs), and the
 * transport's defaults take every path variant's options.
 */
import { describe, expect, it } from 'vitest';
import { createConnection, isSocketchartError } from '../../src/index.js';
import { PATH_VARIANTS, createMemoryTransport } from '../../src/testing/index.js';

describe('MemoryPeer and createMemoryTransport', () => {
  it.each(Object.values(PATH_VARIANTS).map((v) => [v.name, v] as const))('defaults accept the %s variant', (_name, variant) => {
    const memory = createMemoryTransport();
    const conn = createConnection('ws://memory.test/', { ...variant.options, transport: memory.transport });
    expect(conn.state).toBe('idle');
    conn.close();
  });

  it('peer.error() reports an error without closing the socket', () => {
    const memory = createMemoryTransport();
    const conn = createConnection('ws://memory.test/', { transport: memory.transport });
    const errors: string[] = [];
    conn.addEventListener('error', (e) => errors.push(String((e as { error?: Error }).error?.message)));
    memory.last!.error('handshake hiccup');
    expect(errors).toEqual(['handshake hiccup']);
    expect(conn.state).toBe('connecting.opening');
    memory.last!.accept();
    expect(conn.state).toBe('open');
    conn.close();
  });

  it('failNextOpen() makes the next attempt fail for good (SOCKET.FAIL): closed by error, no retry', async () => {
    const memory = createMemoryTransport();
    memory.failNextOpen('no such endpoint');
    const conn = createConnection('ws://memory.test/', { transport: memory.transport });
    expect(conn.state).toBe('connecting.opening'); // reported from a microtask, after createConnection returned
    await Promise.resolve();
    expect(conn.state).toBe('closed');
    expect(conn.closedBy).toMatchObject({ kind: 'error', reason: 'no such endpoint' });
    expect(memory.peers).toHaveLength(0);
    conn.reconnect(); // the failure was for one open only
    expect(memory.peers).toHaveLength(1);
    conn.close();
  });

  it('waitForPeer() gives an auth connection its socket without waiting for a macrotask', async () => {
    const memory = createMemoryTransport();
    const conn = createConnection('ws://memory.test/', { ...PATH_VARIANTS.auth.options, transport: memory.transport });
    let macrotask = false;
    setImmediate(() => (macrotask = true));
    conn.open();
    expect(memory.last).toBeUndefined(); // the token provider answers a few microtasks later
    const peer = await memory.waitForPeer();
    expect(macrotask).toBe(false);
    peer.accept();
    expect(conn.state).toBe('connecting.authenticating');
    expect(peer.sent).toHaveLength(1); // the auth message
    peer.message(JSON.stringify({ type: 'auth_ok' }));
    expect(conn.state).toBe('open');
    conn.close();
  });

  it('waitForPeer() resolves at once with a socket that is already waiting for its handshake', async () => {
    const memory = createMemoryTransport();
    const conn = createConnection('ws://memory.test/', { transport: memory.transport });
    expect(await memory.waitForPeer()).toBe(memory.last);
    conn.close();
  });

  it.each([
    ['peer.error(42)', (m: ReturnType<typeof createMemoryTransport>) => m.last!.error(42 as never)],
    ['failNextOpen({})', (m: ReturnType<typeof createMemoryTransport>) => m.failNextOpen({} as never)],
  ])('%s is refused with ERR_INVALID_OPTION', (_name, run) => {
    const memory = createMemoryTransport();
    const conn = createConnection('ws://memory.test/', { transport: memory.transport });
    let error: unknown;
    try {
      run(memory);
    } catch (e) {
      error = e;
    }
    expect(isSocketchartError(error) && error.code).toBe('ERR_INVALID_OPTION');
    conn.close();
  });
});
