/**
 * The server half of the game example. `join` answers with the `game_state` (everyone's position); `move` updates
 * the mover and is broadcast to the others as `player_move`; `ping` is answered with `pong` after `lag` ms, a
 * simulated network delay. `freeze(playerId)` makes the server stop answering that player's socket while keeping
 * it open: a hung server or a dead route, which only a heartbeat notices.
 */
import type { WebSocket } from 'ws';
import { createTestServer } from '../../src/testing/index.js'; // in an app: 'socketchart/testing', or any ws server
import type { GameIn, GameOut } from './main.js';

export async function startGameServer(lag = 25) {
  const players = new Map<WebSocket, string>();
  const positions: Record<string, { x: number; y: number }> = {};
  const frozen = new Set<WebSocket>();
  const send = (socket: WebSocket, message: GameIn) => socket.send(JSON.stringify(message));

  const server = await createTestServer({
    onConnection(socket) {
      socket.on('close', () => players.delete(socket));
    },
    onMessage(socket, data) {
      if (frozen.has(socket)) return;
      const message = JSON.parse(String(data)) as GameOut;
      switch (message.type) {
        case 'ping':
          setTimeout(() => send(socket, { type: 'pong', timestamp: message.timestamp }), lag);
          break;
        case 'join':
          players.set(socket, message.playerId);
          positions[message.playerId] ??= { x: 0, y: 0 };
          send(socket, { type: 'game_state', positions });
          break;
        case 'move':
          positions[message.playerId] = { x: message.x, y: message.y };
          for (const other of players.keys()) if (other !== socket) send(other, { ...message, type: 'player_move' });
          break;
      }
    },
  });

  return {
    url: server.url(),
    freeze(playerId: string) {
      for (const [socket, id] of players) if (id === playerId) frozen.add(socket);
    },
    close: () => server.close(),
  };
}
