/**
 * The server half of the chat example: one room. `join` names the socket and tells everyone (the joiner too, as
 * its acknowledgement); `chat` goes to everyone; `typing` to everyone else; a socket that goes away is announced
 * as `user_left`. It forgets a user with their socket, which is why the client joins again on every open.
 */
import type { WebSocket } from 'ws';
import { createTestServer } from '../../src/testing/index.js'; // in an app: 'socketchart/testing', or any ws server
import type { ClientMessage, ServerMessage } from './main.js';

export async function startChatServer() {
  const names = new Map<WebSocket, string>();
  const joins: string[] = [];
  const broadcast = (message: ServerMessage, except?: WebSocket) => {
    for (const socket of names.keys()) if (socket !== except) socket.send(JSON.stringify(message));
  };

  const server = await createTestServer({
    onConnection(socket) {
      socket.on('close', () => {
        const username = names.get(socket);
        names.delete(socket);
        if (username) broadcast({ type: 'user_left', username, timestamp: Date.now() });
      });
    },
    onMessage(socket, data) {
      const message = JSON.parse(String(data)) as ClientMessage;
      switch (message.type) {
        case 'join':
          names.set(socket, message.username);
          joins.push(message.username);
          broadcast({ type: 'user_joined', username: message.username, timestamp: Date.now() });
          break;
        case 'chat':
          broadcast({ ...message, timestamp: Date.now() });
          break;
        case 'typing':
          broadcast(message, socket);
          break;
      }
    },
  });

  return {
    url: server.url(),
    /** Every join received, in order (a rejoin shows up twice). */
    joins,
    /** Kill one user's socket without a close frame, as a crashed proxy or a lost network would. */
    drop(username: string) {
      for (const [socket, name] of names) if (name === username) socket.terminate();
    },
    close: () => server.close(),
  };
}
