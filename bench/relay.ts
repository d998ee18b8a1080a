import { type AddressInfo, type Socket, connect, createServer } from 'node:net';

/**
 * A loopback TCP relay in front of a server that can turn into a complete blackhole, for the blackhole-detection
 * measurement. Like `createTcpRelay` from `src/testing/relay.ts` it swallows bytes in both directions while both TCP
 * connections stay up; unlike it, a blackholed relay also swallows the server's own reaction: if the server closes
 * its side (socket.io's server-side heartbeat does, after 45 s), the client's side is kept open, as when the path
 * between them is dead. So only the client's own liveness checking can notice.
 */
export interface BlackholeRelay {
  readonly port: number;
  blackhole(): void;
  close(): void;
}

export async function createBlackholeRelay(targetPort: number): Promise<BlackholeRelay> {
  let swallowing = false;
  const pairs = new Set<[Socket, Socket]>();
  const server = createServer((client) => {
    const upstream = connect(targetPort, '127.0.0.1');
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    const end = (from: Socket) => () => {
      // Blackholed: the other side hears nothing about it.
      if (swallowing && from === upstream) return;
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
    client.on('close', end(client));
    upstream.on('close', end(upstream));
    client.on('error', () => {});
    upstream.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    blackhole() {
      swallowing = true;
    },
    close() {
      for (const [a, b] of pairs) {
        a.destroy();
        b.destroy();
      }
      pairs.clear();
      server.close();
    },
  };
}
