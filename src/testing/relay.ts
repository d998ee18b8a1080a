import { type AddressInfo, type Socket, connect, createServer } from 'node:net';
import { invalidOption } from '../errors.js';

/**
 * A TCP relay on 127.0.0.1 in front of a server, that can turn into a blackhole: no byte gets through in either
 * direction while both TCP connections stay up, as with a dead NAT mapping or a pulled cable. Only a heartbeat
 * notices that. When the blackhole ends, what it held is delivered, in order, to whichever ends are still connected:
 * TCP retransmits, so a path that heals loses nothing, and bytes are never dropped from the middle of a stream.
 */
export interface TcpRelay {
  readonly port: number;
  /** `ws://127.0.0.1:<relay port>` plus `path`. */
  url(path?: string): string;
  /** Hold every byte from now on (true), or deliver what was held and forward again (false). */
  blackhole(on?: boolean): void;
  /** Connections currently relayed. */
  readonly connections: number;
  close(): Promise<void>;
}

export async function createTcpRelay(targetPort: number, targetHost = '127.0.0.1'): Promise<TcpRelay> {
  // Checked up front: the relay connects to its target only when a client arrives, where a bad port throws uncaught.
  if (!Number.isInteger(targetPort) || targetPort < 1 || targetPort > 65535) {
    throw invalidOption('createTcpRelay(targetPort)', "the target server's port, a whole number from 1 to 65535 (e.g. server.port)", targetPort);
  }
  if (typeof targetHost !== 'string' || targetHost === '') {
    throw invalidOption('createTcpRelay(targetPort, targetHost)', "a host name or address such as '127.0.0.1'", targetHost);
  }
  let swallowing = false;
  /** What the blackhole holds, in arrival order: chunks on their way, and closes (a dead path carries no FIN). */
  let held: Array<() => void> = [];
  const pairs = new Set<[Socket, Socket]>();
  const server = createServer((client) => {
    const upstream = connect(targetPort, targetHost);
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    const closeBoth = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    const end = () => {
      if (swallowing) held.push(closeBoth);
      else closeBoth();
    };
    const forward = (target: Socket) => (chunk: Buffer) => {
      if (swallowing) held.push(() => !target.destroyed && target.write(chunk));
      else if (!target.destroyed) target.write(chunk);
    };
    client.on('data', forward(upstream));
    upstream.on('data', forward(client));
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
      if (on) {
        swallowing = true;
        return;
      }
      // Still holding while it drains, so nothing that happens meanwhile overtakes what was held before it.
      for (let i = 0; i < held.length; i++) (held[i] as () => void)();
      held = [];
      swallowing = false;
    },
    get connections() {
      return pairs.size;
    },
    close: () =>
      new Promise<void>((resolve) => {
        held = [];
        for (const [a, b] of pairs) {
          a.destroy();
          b.destroy();
        }
        server.close(() => resolve());
      }),
  };
}
