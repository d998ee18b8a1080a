/**
 * A shared connection has the same API as a connection, plug-ins included: `on()` needs the router plug-in and
 * routes by its field. (Node has no Web Locks, so this is the visible fallback: a connection of its own.)
 */
import { describe, expect, it } from 'vitest';
import { createSharedConnection, jsonCodec } from '../../src/index.js';
import { router } from '../../src/plugins/router.js';
import { createMemoryTransport } from '../../src/transports/memory.js';

describe('createSharedConnection().on()', () => {
  it('throws ERR_PLUGIN_MISSING without the router plug-in, naming the import, as a connection does', () => {
    const memory = createMemoryTransport();
    const conn = createSharedConnection<{ type: string }>('ws://example.test/', { transport: memory.transport, codec: jsonCodec() });
    expect(conn.shared).toBe(false);
    for (const call of [() => conn.on('price', () => {}), () => conn.once('price', () => {}), () => conn.off('price', () => {})]) {
      expect(call).toThrow(expect.objectContaining({ code: 'ERR_PLUGIN_MISSING', message: expect.stringContaining("from 'socketchart/router'") }));
    }
    conn.close();
  });

  it("routes by the router plug-in's field", async () => {
    const memory = createMemoryTransport();
    const conn = createSharedConnection<{ kind: string; n: number }>('ws://example.test/', {
      transport: memory.transport,
      codec: jsonCodec(),
      router: router({ typeField: 'kind' }),
    });
    const seen: number[] = [];
    // Typed routing reads `type`; this one routes by `kind` at run time.
    conn.on('price' as never, (m: { n: number }) => seen.push(m.n));
    await new Promise<void>((resolve) => setImmediate(resolve));
    memory.last!.accept();
    await new Promise<void>((resolve) => setImmediate(resolve));
    memory.last!.message('{"kind":"price","n":1}');
    memory.last!.message('{"kind":"other","n":2}');
    expect(seen).toEqual([1]);
    conn.close();
  });
});
