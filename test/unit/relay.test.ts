import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { createTcpRelay } from '../../src/testing/relay.js';

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!();
});

/** A plain ws echo server on 127.0.0.1, port 0, that records what it receives per connection. */
async function echoServer() {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await once(wss, 'listening');
  const received: string[] = [];
  const sockets: WebSocket[] = [];
  wss.on('connection', (socket) => {
    sockets.push(socket);
    socket.on('message', (data) => {
      received.push(data.toString());
      socket.send(data.toString());
    });
  });
  cleanup.push(
    () =>
      new Promise<void>((resolve) => {
        for (const socket of wss.clients) socket.terminate();
        wss.close(() => resolve());
      }),
  );
  return { port: (wss.address() as AddressInfo).port, received, sockets };
}

async function client(url: string) {
  const ws = new WebSocket(url);
  const got: string[] = [];
  ws.on('message', (data) => got.push(data.toString()));
  cleanup.push(() => ws.terminate());
  await once(ws, 'open');
  return { ws, got };
}

/** Polls (network round trips, not policy timers) until `done()` holds. */
async function until(done: () => boolean, what: string, ms = 1_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

describe('createTcpRelay in front of a ws echo server', () => {
  it('forwards both ways while no blackhole is on', async () => {
    const server = await echoServer();
    const relay = await createTcpRelay(server.port);
    cleanup.push(() => relay.close());
    const { ws, got } = await client(relay.url());
    expect(relay.connections).toBe(1);
    ws.send('hello');
    await until(() => got.length === 1, 'the echo');
    expect(server.received).toEqual(['hello']);
    expect(got).toEqual(['hello']);
  });

  it('holds what a blackhole swallows, then delivers it in order ahead of what is sent after, and the echoes come back', async () => {
    const server = await echoServer();
    const relay = await createTcpRelay(server.port);
    cleanup.push(() => relay.close());
    const { ws, got } = await client(relay.url());
    // A direct connection to the same server: its echo is the barrier that shows the relay had time to forward.
    const direct = await client(`ws://127.0.0.1:${server.port}/`);
    ws.send('warm-up');
    await until(() => got.length === 1, 'the warm-up echo');

    relay.blackhole(true);
    ws.send('m1');
    ws.send('m2');
    server.sockets[0]!.send('pushed during the blackhole');
    direct.ws.send('barrier');
    await until(() => direct.got.length === 1, 'the direct echo');
    await new Promise((resolve) => setTimeout(resolve, 20)); // a few more loopback round trips' worth
    expect(server.received).toEqual(['warm-up', 'barrier']);
    expect(got).toEqual(['warm-up']);
    expect(relay.connections).toBe(1); // both TCP connections stay up
    expect(ws.readyState).toBe(WebSocket.OPEN);

    relay.blackhole(false);
    ws.send('m3');
    ws.send('m4');
    await until(() => got.length === 6, 'every echo');
    expect(server.received).toEqual(['warm-up', 'barrier', 'm1', 'm2', 'm3', 'm4']);
    expect(got).toEqual(['warm-up', 'pushed during the blackhole', 'm1', 'm2', 'm3', 'm4']);
  });
});
