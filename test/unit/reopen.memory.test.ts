/**
 * open() while `closing` (socket.io's disconnect().connect()): the chart owns it (`context.reopen`). The closing
 * handshake finishes, the session ends with its final `close`, and the next session starts in the same step
 * (closing -> connecting.opening); close() before the handshake is over takes it back; reconnect() starts at once.
 */
import { SimulatedClock } from 'xstate';
import { describe, expect, it } from 'vitest';
import { createConnection, isSocketchartError } from '../../src/index.js';
import { createMemoryTransport } from '../../src/transports/memory.js';

function setup() {
  const memory = createMemoryTransport();
  const clock = new SimulatedClock();
  const conn = createConnection('ws://example.test/', { transport: memory.transport, clock, random: () => 0.5, heartbeat: false });
  memory.last!.accept();
  const log: string[] = [];
  conn.addEventListener('statechange', (e) => log.push(`${e.from}->${e.to}`));
  conn.addEventListener('close', (e) => log.push(`close:${e.code}:${e.closedBy?.kind ?? '-'}`));
  conn.addEventListener('open', () => log.push('open'));
  return { memory, clock, conn, log };
}

describe('open() while closing', () => {
  it('the handshake finishes, the final close fires, and the next session starts; the chart shows it is pending', () => {
    const { memory, conn, log } = setup();
    conn.close(1000, 'bye');
    const closing = memory.last!;
    conn.open();
    expect(conn.state).toBe('closing');
    expect(conn.actor.getSnapshot().context.reopen).toBe(true);
    closing.completeClose();
    expect(log).toEqual(['open->closing', 'closing->connecting.opening', 'close:1000:user']);
    expect(conn.actor.getSnapshot().context.reopen).toBe(false);
    expect(memory.peers).toHaveLength(2);
    memory.last!.accept();
    expect(conn.state).toBe('open');
    expect(log.at(-1)).toBe('open');
  });

  it('close() before the handshake is over takes it back: the session ends closed, no new socket', () => {
    const { memory, conn, log } = setup();
    conn.close();
    conn.open();
    conn.close();
    expect(conn.actor.getSnapshot().context.reopen).toBe(false);
    memory.last!.completeClose();
    expect(conn.state).toBe('closed');
    expect(memory.peers).toHaveLength(1);
    expect(log).toEqual(['open->closing', 'closing->closed', 'close:1000:user']);
  });

  it('opened() asked meanwhile resolves with the next session, also when reconnect() starts it instead', async () => {
    for (const how of ['handshake', 'reconnect'] as const) {
      const { memory, conn } = setup();
      conn.close();
      conn.open();
      const opened = conn.opened();
      if (how === 'reconnect') conn.reconnect();
      else memory.peers[0]!.completeClose();
      memory.last!.accept();
      await expect(opened).resolves.toBeUndefined();
      expect(conn.state).toBe('open');
    }
  });

  it('a close listener, however late it was added, can still end the new session with close()', () => {
    const { memory, conn } = setup();
    conn.close();
    conn.open();
    conn.addEventListener('close', (e) => {
      if (e.closedBy) conn.close(1000, 'changed my mind');
    });
    memory.last!.completeClose();
    expect(conn.state).toBe('closed');
    expect(conn.closedBy).toMatchObject({ kind: 'user', reason: 'changed my mind' });
  });

  it('opened({ timeout }) counts from the call while closing, like anywhere else', async () => {
    const { clock, conn } = setup();
    conn.close();
    conn.open();
    const opened = conn.opened({ timeout: 100 });
    clock.increment(100);
    await expect(opened).rejects.toSatisfy((error: unknown) => isSocketchartError(error, 'ERR_OPEN_TIMEOUT'));
  });
});
