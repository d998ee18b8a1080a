/**
 * Async schema validation when a listener ends the session while a validation settles (review F1): the message being
 * delivered is out of the waiting chain before its listeners run, so `Validator.ended()` never hands it back as
 * undelivered, and the waiting counts stay balanced for the next session's bound.
 */
import { SimulatedClock } from 'xstate';
import { describe, expect, it } from 'vitest';
import { createConnection, jsonCodec } from '../../src/index.js';
import type { StandardSchemaV1 } from '../../src/messages/schema.js';
import { schema } from '../../src/plugins/schema.js';
import { createMemoryTransport } from '../../src/transports/memory.js';

function deferredSchema() {
  const pending: Array<{ value: unknown; resolve: (r: unknown) => void }> = [];
  const s: StandardSchemaV1 = {
    '~standard': {
      version: 1,
      vendor: 'test',
      validate: (value: unknown) => new Promise((resolve) => pending.push({ value, resolve: resolve as (r: unknown) => void })),
    },
  };
  return { s, pending };
}

describe('async validation: a listener that ends the session while a validation settles', () => {
  it('a message delivered from a settling validation whose listener closes the connection (in backoff) is not also reported as undelivered', async () => {
    const memory = createMemoryTransport({ canPing: false });
    const clock = new SimulatedClock();
    const { s, pending } = deferredSchema();
    const conn = createConnection('ws://x.test/', { transport: memory.transport, clock, heartbeat: false, codec: jsonCodec(), schema: schema(s), random: () => 0.5 });
    memory.last!.accept();
    const delivered: unknown[] = [];
    const invalid: Array<{ data: unknown; code: unknown }> = [];
    conn.addEventListener('message', (e) => {
      delivered.push(e.data);
      conn.close();
    });
    conn.addEventListener('invalid-message', (e) => invalid.push({ data: e.data, code: (e.problem as { code?: unknown }).code }));
    memory.last!.message('{"n":1}');
    memory.last!.message('{"n":2}');
    memory.last!.close(1001, 'going away'); // the socket ends; what it received is still delivered once validated
    expect(conn.state).toBe('reconnecting.backoff');
    pending[0]!.resolve({ value: pending[0]!.value });
    await new Promise((r) => setImmediate(r));
    expect(conn.state).toBe('closed');
    // n:1 was delivered: it must not also be reported as 'not delivered'
    expect(invalid.map((i) => i.data)).toEqual(['{"n":2}']);
  });

  it('after that, the bound of waiting validations holds in the next session (maxMessages 1: the second waits no more)', async () => {
    const memory = createMemoryTransport({ canPing: false });
    const clock = new SimulatedClock();
    const { s, pending } = deferredSchema();
    const conn = createConnection('ws://x.test/', { transport: memory.transport, clock, heartbeat: false, codec: jsonCodec(), schema: schema(s), random: () => 0.5, queue: { maxMessages: 1 } });
    memory.last!.accept();
    let closeOnMessage = true;
    conn.addEventListener('message', () => {
      if (closeOnMessage) conn.close();
    });
    const invalid: Array<{ data: unknown; code: unknown }> = [];
    conn.addEventListener('invalid-message', (e) => invalid.push({ data: e.data, code: (e.problem as { code?: unknown }).code }));
    memory.last!.message('{"n":1}');
    memory.last!.close(1001, 'going away');
    pending[0]!.resolve({ value: pending[0]!.value });
    await new Promise((r) => setImmediate(r));
    expect(conn.state).toBe('closed');
    closeOnMessage = false;
    invalid.length = 0;
    conn.open();
    memory.last!.accept();
    memory.last!.message('{"n":3}'); // waits (validation pending)
    memory.last!.message('{"n":4}'); // bound 1: must be refused ERR_QUEUE_FULL
    expect(invalid.map((i) => i.code)).toEqual(['ERR_QUEUE_FULL']);
  });
});
