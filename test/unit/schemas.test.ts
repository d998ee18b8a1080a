import * as v from 'valibot';
import { z } from 'zod';
import { describe, expect, it } from 'vitest';
import { type StandardSchemaV1, createConnection, jsonCodec } from '../../src/index.js';
import type { InvalidMessageEvent } from '../../src/events.js';
import { isStandardSchema } from '../../src/messages/schema.js';
import { createMemoryTransport } from '../../src/transports/memory.js';
import { schema } from '../../src/plugins/schema.js';

/** What every validator below turns `{"type":"tick","n":"42",...}` into: `n` parsed to a number. */
type Tick = { type: 'tick'; n: number };

const zodSchema = z.object({ type: z.literal('tick'), n: z.string().transform(Number) });
const valibotSchema = v.object({ type: v.literal('tick'), n: v.pipe(v.string(), v.transform(Number)) });

const validators: Array<[string, StandardSchemaV1<unknown, Tick>, { stripsUnknownKeys: boolean }]> = [
  ['zod', zodSchema, { stripsUnknownKeys: true }],
  ['valibot', valibotSchema, { stripsUnknownKeys: true }],
];

function setup(validator: StandardSchemaV1<unknown, Tick>) {
  const memory = createMemoryTransport();
  const conn = createConnection<Tick>('ws://example.test/', { transport: memory.transport, codec: jsonCodec(), schema: schema(validator) });
  const messages: Tick[] = [];
  const invalid: InvalidMessageEvent[] = [];
  conn.addEventListener('message', (e) => messages.push(e.data));
  conn.addEventListener('invalid-message', (e) => invalid.push(e));
  memory.last!.accept();
  return { peer: memory.last!, conn, messages, invalid };
}

/** Validation may be async for some validators: let any pending one finish. */
const settled = () => new Promise((resolve) => setImmediate(resolve));

/** Standard Schema paths hold keys or `{ key }` segments; this flattens them to keys. */
function pathOf(issue: { path?: ReadonlyArray<PropertyKey | { key: PropertyKey }> }): PropertyKey[] {
  return Array.from(issue.path ?? [], (segment) => (typeof segment === 'object' ? segment.key : segment));
}

describe.each(validators)('schema: %s (a real Standard Schema validator)', (vendor, schema, { stripsUnknownKeys }) => {
  it('is recognized as a Standard Schema', () => {
    expect(isStandardSchema(schema)).toBe(true);
    expect(schema['~standard'].vendor).toBe(vendor);
  });

  it('delivers a valid message as a message event carrying the parsed value', async () => {
    const { peer, messages, invalid } = setup(schema);
    peer.message('{"type":"tick","n":"42","extra":true}');
    await settled();
    expect(invalid).toEqual([]);
    expect(messages).toEqual([stripsUnknownKeys ? { type: 'tick', n: 42 } : { type: 'tick', n: 42, extra: true }]);
    expect(typeof messages[0]!.n).toBe('number');
  });

  it('reports an invalid message as invalid-message with the raw frame and the issues, and fires no message', async () => {
    const { peer, conn, messages, invalid } = setup(schema);
    peer.message('{"type":"tick","n":7}');
    await settled();
    expect(messages).toEqual([]);
    expect(invalid).toHaveLength(1);
    const event = invalid[0]!;
    expect(event.type).toBe('invalid-message');
    expect(event.target).toBe(conn);
    expect(event.data).toBe('{"type":"tick","n":7}');
    const issues = event.problem as ReadonlyArray<{ message: string; path?: ReadonlyArray<PropertyKey | { key: PropertyKey }> }>;
    expect(Array.isArray(issues)).toBe(true);
    expect(issues.length).toBeGreaterThan(0);
    expect(issues.map(pathOf)).toContainEqual(['n']);
    expect(typeof issues[0]!.message).toBe('string');
    expect(conn.state).toBe('open');
  });

  it('keeps the order of valid messages around invalid ones', async () => {
    const { peer, messages, invalid } = setup(schema);
    peer.message('{"type":"tick","n":"1"}');
    peer.message('{"type":"tock","n":"2"}');
    peer.message('not json');
    peer.message('{"type":"tick","n":"3"}');
    await settled();
    expect(messages.map((m) => m.n)).toEqual([1, 3]);
    expect(invalid.map((e) => e.data)).toEqual(['{"type":"tock","n":"2"}', 'not json']);
    expect(invalid[1]!.problem).toBeInstanceOf(SyntaxError);
  });
});

describe.each(validators)('schema: %s with requests (a schema that strips unknown keys drops the reply id)', (_vendor, validator) => {
  async function requesting() {
    const { requests } = await import('../../src/plugins/requests.js');
    const memory = createMemoryTransport();
    const conn = createConnection<Tick, unknown>('ws://example.test/', {
      transport: memory.transport,
      codec: jsonCodec(),
      schema: schema(validator),
      requests: requests({ timeout: Infinity }),
    });
    const messages: unknown[] = [];
    const invalid: InvalidMessageEvent[] = [];
    conn.addEventListener('message', (e) => messages.push(e.data));
    conn.addEventListener('invalid-message', (e) => invalid.push(e));
    memory.last!.accept();
    return { peer: memory.last!, conn, messages, invalid };
  }

  it('a valid reply settles its request with the validated value, and is not a message', async () => {
    const { peer, conn, messages } = await requesting();
    const reply = conn.request({ type: 'get' });
    peer.message('{"type":"tick","n":"7","id":"1"}');
    await settled();
    await expect(reply).resolves.toMatchObject({ type: 'tick', n: 7 });
    expect(messages).toEqual([]);
  });

  it('an invalid reply rejects its request with ERR_INVALID_DATA (the issues as cause) and is reported', async () => {
    const { peer, conn, messages, invalid } = await requesting();
    // Its outcome is taken at once: the rejection comes as the reply arrives, before the test looks.
    const outcome = conn.request({ type: 'get' }).then(() => 'resolved', (error: unknown) => error);
    peer.message('{"type":"tick","n":7,"id":"1"}');
    await settled();
    expect(await outcome).toMatchObject({ code: 'ERR_INVALID_DATA' });
    expect(invalid).toHaveLength(1);
    expect(messages).toEqual([]);
  });
});
