/**
 * A closing handshake proves receipt only when the server answers ours (README "Nothing is lost silently"): its close
 * frame then carries our code back (servers echo it, RFC 6455 5.5.1). A server that closes on its own while we close
 * (going away, a restart) crosses our close frame and may never have read what we wrote: those messages are
 * reported as `unconfirmed`, not taken as delivered. Real `ws` server on 127.0.0.1, port 0; no sleeps.
 */
import type { Socket } from 'node:net';
import { WebSocketServer, type WebSocket as ServerSocket } from 'ws';
import { afterEach, expect, it } from 'vitest';
import { createConnection } from '../../src/node.js';

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!();
});

async function setup() {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((resolve) => wss.once('listening', resolve));
  cleanup.push(() => new Promise<void>((resolve) => wss.close(() => resolve())));
  const received: string[] = [];
  const connected = new Promise<ServerSocket>((resolve) =>
    wss.on('connection', (socket) => {
      socket.on('message', (data) => received.push(String(data)));
      resolve(socket);
    }),
  );
  const conn = createConnection<string>(`ws://127.0.0.1:${(wss.address() as { port: number }).port}/`, { heartbeat: false });
  cleanup.push(() => conn.close());
  const reported: string[] = [];
  conn.addEventListener('drop', (e) => reported.push(`${String(e.data)}:${e.reason}`));
  await conn.opened();
  return { conn, server: await connected, received, reported };
}

const sent = Array.from({ length: 10 }, (_, i) => `m${i}`);

it('a server that closes on its own (1001) as we close, without reading what we wrote: each message is reported unconfirmed', async () => {
  const { conn, server, received, reported } = await setup();
  const raw = (server as unknown as { _socket: Socket })._socket;
  raw.pause(); // the server reads nothing more
  for (const m of sent) conn.send(m);
  conn.close(4000, 'client bye');
  server.close(1001, 'going away'); // its own close frame, crossing ours: not an answer
  raw.write(Buffer.alloc(0), () => raw.destroy()); // once its close frame is out: a restart that does not wait
  const closedBy = await conn.closed();
  expect(closedBy).toMatchObject({ kind: 'user', code: 4000, wasClean: true });
  expect(received).toEqual([]);
  expect(reported).toEqual(sent.map((m) => `${m}:unconfirmed`));
});

it('a server that answers our close (its frame echoes our code): the handshake proves receipt, nothing is reported', async () => {
  const { conn, received, reported } = await setup();
  for (const m of sent) conn.send(m);
  conn.close(4000, 'client bye');
  expect(await conn.closed()).toMatchObject({ kind: 'user', code: 4000, wasClean: true });
  expect(received).toEqual(sent);
  expect(reported).toEqual([]);
});
