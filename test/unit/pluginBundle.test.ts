/**
 * Plug-ins reach a bundle only through the app's own import: `createConnection` alone bundles none of their code
 * (nor the delivery layer's adapter, which `socketchart/delivery` brings), and a layer of the app's own works
 * through `deliveryLayer()`.
 */
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createConnection } from '../../src/index.js';
import { type DeliveryHost, type DeliveryLayer, NO_MESSAGE, deliveryLayer } from '../../src/delivery/index.js';
import { createMemoryTransport } from '../../src/transports/memory.js';

const repo = fileURLToPath(new URL('../..', import.meta.url));

async function bundledInputs(code: string): Promise<string[]> {
  const result = await build({
    stdin: { contents: code, resolveDir: repo, sourcefile: 'entry.ts', loader: 'ts' },
    bundle: true,
    write: false,
    platform: 'browser',
    format: 'esm',
    minify: true,
    metafile: true,
    logLevel: 'silent',
  });
  const output = Object.values(result.metafile.outputs)[0]!;
  return Object.entries(output.inputs).filter(([, input]) => input.bytesInOutput > 0).map(([path]) => path);
}

describe('what createConnection alone bundles', () => {
  it('holds no plug-in code and no delivery adapter', async () => {
    const inputs = await bundledInputs("export { createConnection } from './src/index.ts';");
    expect(inputs).toContain('src/connection.ts');
    const optional = inputs.filter((path) => /^src\/(plugins|delivery\/(?!types)|messages\/(?!codec|requests))|^src\/outbound\/layered/.test(path));
    expect(optional).toEqual([]);
  });

  it('gets the adapter with atLeastOnce()', async () => {
    const inputs = await bundledInputs("export { createConnection } from './src/index.ts'; export { atLeastOnce } from './src/delivery/index.ts';");
    expect(inputs).toContain('src/outbound/layered.ts');
  });
});

describe('a delivery layer of the app\'s own', () => {
  /** Prefixes what it writes with `L:` and unwraps what comes back; its control frame `L!` carries no message. */
  const prefixing = (host: DeliveryHost): DeliveryLayer => ({
    protocols: ['prefix.v1'],
    pending: { count: 0, bytes: 0 },
    send: (data) => void host.write(`L:${String(data)}`),
    inbound: (frame) => (frame === 'L!' ? NO_MESSAGE : String(frame).slice(2)),
    opened: () => void host.write('L!'),
    lost: () => {},
    ended: () => {},
  });

  it('works through deliveryLayer(), both ways, with its subprotocol offered', () => {
    const memory = createMemoryTransport();
    const conn = createConnection<string, string>('ws://example.test/', { transport: memory.transport, delivery: deliveryLayer(prefixing) });
    const got: string[] = [];
    conn.onmessage = (event) => got.push(event.data);
    expect(memory.last!.request.protocols).toEqual(['prefix.v1']);
    memory.last!.accept();
    conn.send('hello');
    memory.last!.message('L!');
    memory.last!.message('L:world');
    expect(memory.last!.sent).toEqual(['L!', 'L:hello']);
    expect(got).toEqual(['world']);
    conn.close();
  });

  it('is refused as a bare factory, naming deliveryLayer and its import', () => {
    const memory = createMemoryTransport();
    expect(() => createConnection('ws://example.test/', { transport: memory.transport, delivery: prefixing as never })).toThrow(
      /deliveryLayer\(yourFactory\) from 'socketchart\/delivery'/,
    );
  });
});
