import { type AddressInfo, type Socket, connect, createServer } from 'node:net';

/**
 * A TCP relay on 127.0.0.1 that can cut every connection through it at once: both TCP connections are destroyed,
 * so whatever was in flight either way is gone, as when a NAT or a load balancer drops a connection. Unlike
 * `createTcpRelay` (socketchart/testing), which holds bytes and never loses them, this one loses them: the fuzz
 * tests use it to check that acknowledged delivery recovers what a dead connection took with it.
 */
export interface CuttingRelay {
  url: string;
  /** Destroys every relayed connection now (both sides, no FIN, no close frame). */
  cut(): void;
  /** Cut each connection once it has carried this many more bytes server -> client (0: never). */
  cutAfter(bytes: number): void;
  readonly connections: number;
  close(): Promise<void>;
}

export async function createCuttingRelay(targetPort: number): Promise<CuttingRelay> {
  const pairs = new Set<[Socket, Socket]>();
  let budget = 0;
  const server = createServer((client) => {
    const upstream = connect(targetPort, '127.0.0.1');
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    const destroy = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', destroy);
    upstream.on('error', destroy);
    client.on('close', destroy);
    upstream.on('close', destroy);
    client.on('data', (chunk: Buffer) => upstream.write(chunk));
    upstream.on('data', (chunk: Buffer) => {
      if (budget > 0) {
        budget -= chunk.length;
        if (budget <= 0) {
          budget = 0;
          // Part of the chunk goes through, the rest dies with the connection.
          client.write(chunk.subarray(0, Math.max(0, chunk.length + budget - 1)), destroy);
          return;
        }
      }
      client.write(chunk);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `ws://127.0.0.1:${port}/`,
    cut() {
      for (const [client, upstream] of [...pairs]) {
        client.destroy();
        upstream.destroy();
      }
      pairs.clear();
    },
    cutAfter(bytes: number) {
      budget = bytes;
    },
    get connections() {
      return pairs.size;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const [client, upstream] of pairs) {
          client.destroy();
          upstream.destroy();
        }
        server.close(() => resolve());
      }),
  };
}
