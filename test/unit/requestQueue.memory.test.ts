/** A request that waits in the outbound queue (flow limits) and is dropped there fails at once, never hangs. */
import { SimulatedClock } from 'xstate';
import { describe, expect, it } from 'vitest';
import { createConnection, isSocketchartError, jsonCodec } from '../../src/index.js';
import { requests } from '../../src/plugins/requests.js';
import { createMemoryTransport } from '../../src/transports/memory.js';

describe('requests dropped by the queue', () => {
  it('a queued request pushed out by overflow rejects with ERR_QUEUE_FULL (timeout: Infinity would hang it)', async () => {
    const memory = createMemoryTransport();
    const conn = createConnection('ws://x/', {
      transport: memory.transport,
      clock: new SimulatedClock(),
      codec: jsonCodec(),
      requests: requests({ timeout: Infinity }),
      queue: { maxMessages: 1, overflow: 'drop-oldest' },
      flow: { rateLimit: { perSecond: 1, burst: 1 } },
    });
    memory.last!.accept();
    conn.send({ first: 1 }); // takes the only token: what follows waits in the queue
    const reply = conn.request({ q: 1 });
    const drops: string[] = [];
    conn.addEventListener('drop', (e) => drops.push(e.reason));
    conn.send({ other: 1 }); // the queue holds one message: the request is pushed out
    const error = await reply.then(() => null, (e: unknown) => e);
    expect(isSocketchartError(error, 'ERR_QUEUE_FULL')).toBe(true);
    expect(drops).toEqual(['queue-full']);
    conn.close();
  });
});
