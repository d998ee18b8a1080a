import { type AddressInfo, type Socket, connect, createServer } from 'node:net';

/**
 * A TCP relay on 127.0.0.1 in front of a server, that can turn into a blackhole: bytes are swallowed in both
 * directions while both TCP connections stay up, as with a dead NAT mapping or a pulled cable. Only a heartbeat
 * notices that.
 */
export interface TcpRelay {
  readonly port: number;
  /** `ws://127.0.0.1:<relay port>` plus `path`. */
  url(path?: string): string;
  /** Swallow every byte from now on (true), or forward again (false). */
  blackhole(on?: boolean): void;
  /** Connections currently relayed. */
  readonly connections: number;
  close(): Promise<void>;
}

export async function createTcpRelay(targetPort: number, targetHost = '127.0.0.1'): Promise<TcpRelay> {
  let swallowing = false;
  const pairs = new Set<[Socket, Socket]>();
  const server = createServer((client) => {
    const upstream = connect(targetPort, targetHost);
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    const end = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('data', (chunk) => {
      if (!swallowing) upstream.write(chunk);
    });
    upstream.on('data', (chunk) => {
      if (!swallowing) client.write(chunk);
    });
    client.on('close', end);
    upstream.on('close', end);
    client.on('error', end);
    upstream.on('error', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: (path = '/') => `ws://127.0.0.1:${port}${path}`,
    blackhole(on = true) {
      swallowing = on;
    },
    get connections() {
      return pairs.size;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const [a, b] of pairs) {
          a.destroy();
          b.destroy();
        }
        server.close(() => resolve());
      }),
  };
}
