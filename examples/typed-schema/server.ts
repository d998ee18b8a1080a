/**
 * The server half of the typed-schema example: on `subscribe`, it sends the channel's backlog, which holds good
 * messages and a few a buggy (or hostile) server could send: a chat without text, an unknown type, a timestamp
 * of the wrong type, and a frame that is not JSON at all.
 */
import { createTestServer } from '../../src/testing/index.js'; // in an app: 'socketchart/testing', or any ws server
import type { ClientMessage } from './schema.js';

export const BACKLOG = [
  { type: 'user_joined', username: 'ada', timestamp: 1 },
  { type: 'chat', username: 'ada', text: 'hello', timestamp: 2 },
  { type: 'chat', username: 'mallory', timestamp: 3 },
  { type: 'shout', username: 'mallory', text: 'HELLO', timestamp: 4 },
  { type: 'user_left', username: 'mallory', timestamp: 'yesterday' },
  '{"type": "chat", "username": "mallory", "text": "unterminated',
  { type: 'chat', username: 'grace', text: 'hi ada', timestamp: 5 },
  { type: 'user_left', username: 'ada', timestamp: 6 },
];

export async function startTypedServer() {
  const server = await createTestServer({
    onMessage(socket, data) {
      const request = JSON.parse(String(data)) as ClientMessage;
      if (request.action !== 'subscribe') return;
      for (const message of BACKLOG) socket.send(typeof message === 'string' ? message : JSON.stringify(message));
    },
  });
  return { url: server.url(), close: () => server.close() };
}
