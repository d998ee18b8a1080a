/**
 * The app's retryWait hook as the invoked `retryWait` actor of `reconnecting.backoff` (issue 10 §1): the chart, not
 * the runtime, decides when the wait ends; leaving the backoff another way aborts the hook's signal.
 */
import { SimulatedClock } from 'xstate';
import { describe, expect, it } from 'vitest';
import { createConnection, createManualEnvironment, isSocketchartError } from '../../src/index.js';
import { createMemoryTransport } from '../../src/transports/memory.js';

const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

function setup(retryWait: (retry: number, delay: number, signal: AbortSignal) => Promise<void> | void) {
  const memory = createMemoryTransport();
  const env = createManualEnvironment();
  const conn = createConnection('ws://example.test/socket', {
    transport: memory.transport,
    clock: new SimulatedClock(),
    environment: env.source,
    random: () => 0.5,
    heartbeat: false,
    retryWait,
  });
  return { memory, env, conn };
}

describe('retryWait is the backoff\'s invoked actor', () => {
  it('is called with the retry, the delay and a signal; the inspector sees the actor; resolving retries', async () => {
    const calls: Array<[number, number]> = [];
    let release!: () => void;
    const { memory, conn } = setup((retry, delay) => {
      calls.push([retry, delay]);
      return new Promise((resolve) => (release = resolve));
    });
    memory.last!.close(1006, '');
    expect(conn.state).toBe('reconnecting.backoff');
    expect(conn.actor.getSnapshot().children.retryWait).toBeDefined();
    await settle();
    expect(calls).toEqual([[1, 200]]); // initialDelay 400, jitter with random 0.5
    release();
    await settle();
    expect(conn.state).toBe('connecting.opening');
    conn.close();
  });

  it.each([
    ['close()', (c: ReturnType<typeof setup>) => c.conn.close()],
    ['reconnect()', (c: ReturnType<typeof setup>) => c.conn.reconnect()],
    ['going offline', (c: ReturnType<typeof setup>) => c.env.setOnline(false)],
    ['the page becoming visible', (c: ReturnType<typeof setup>) => c.env.becameVisible()],
  ])('aborts the hook\'s signal when the wait ends by %s', async (_how, end) => {
    let signal: AbortSignal | undefined;
    const c = setup((_r, _d, s) => {
      signal = s;
      return new Promise(() => {});
    });
    c.memory.last!.close(1006, '');
    await settle();
    expect(signal?.aborted).toBe(false);
    end(c);
    expect(signal?.aborted).toBe(true);
    expect(c.conn.state).not.toBe('reconnecting.backoff');
    c.conn.close();
  });

  it.each([
    ['throws', () => { throw new Error('boom'); }],
    ['rejects', () => Promise.reject(new Error('boom'))],
  ])('a hook that %s is reported as an error event and the retry happens at once', async (_how, hook) => {
    const { memory, conn } = setup(hook);
    const errors: unknown[] = [];
    conn.addEventListener('error', (e) => errors.push(e.error));
    memory.last!.close(1006, '');
    await settle();
    expect(conn.state).toBe('connecting.opening');
    expect(errors).toHaveLength(1);
    expect(isSocketchartError(errors[0], 'ERR_INVALID_OPTION')).toBe(true);
    expect(String((errors[0] as Error).message)).toMatch(/retryWait.*boom/);
    conn.close();
  });

  it('visibility is a chart event: PAGE.VISIBLE outside the backoff changes nothing', () => {
    const { memory, env, conn } = setup(() => new Promise(() => {}));
    memory.last!.accept();
    env.becameVisible();
    expect(conn.state).toBe('open');
    conn.close();
  });
});

describe('heartbeat round trip across a reconnect', () => {
  it('a pong on a new socket is not timed against a ping the old socket never answered', () => {
    const memory = createMemoryTransport();
    const clock = new SimulatedClock();
    const conn = createConnection('ws://example.test/socket', {
      transport: memory.transport,
      clock,
      random: () => 0,
      heartbeat: { mode: 'protocol', interval: 1_000, timeout: 500 },
    });
    memory.last!.accept();
    clock.increment(1_000); // a probe goes out on socket A
    memory.last!.close(1006, ''); // A is lost with the ping unanswered
    clock.increment(60_000);
    const b = memory.last!;
    b.accept();
    b.pong(); // unsolicited (RFC 6455 allows one-way heartbeats)
    expect(conn.metrics.rtt).toBeNull();
    conn.close();
  });
});
