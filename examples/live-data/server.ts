/**
 * The server half of the live-data example: a price feed. `subscribe` / `unsubscribe` change what a socket gets and
 * are answered with `subscriptions` (the socket's whole set, as real feeds confirm it). `tick()` publishes one
 * `price_update` per subscribed symbol. Subscriptions belong to the socket: a new socket starts with none.
 */
import type { WebSocket } from 'ws';
import { createTestServer } from '../../src/testing/index.js'; // in an app: 'socketchart/testing', or any ws server
import type { FeedRequest, FeedMessage } from './main.js';

export async function startPriceFeed() {
  const subscriptions = new Map<WebSocket, Set<string>>();
  const requests: FeedRequest[] = [];
  let seq = 0;
  const send = (socket: WebSocket, message: FeedMessage) => socket.send(JSON.stringify(message));

  const server = await createTestServer({
    onConnection(socket) {
      subscriptions.set(socket, new Set());
      socket.on('close', () => subscriptions.delete(socket));
    },
    onMessage(socket, data) {
      const request = JSON.parse(String(data)) as FeedRequest;
      requests.push(request);
      const symbols = subscriptions.get(socket);
      if (!symbols) return;
      for (const symbol of request.symbols) {
        if (request.action === 'subscribe') symbols.add(symbol);
        else symbols.delete(symbol);
      }
      send(socket, { type: 'subscriptions', symbols: [...symbols] });
    },
  });

  return {
    url: server.url(),
    /** Every subscribe/unsubscribe received, in order. */
    requests,
    /** Publish one price per subscribed symbol to every socket. */
    tick() {
      seq++;
      for (const [socket, symbols] of subscriptions) {
        for (const symbol of symbols) {
          send(socket, { type: 'price_update', symbol, price: 100 + ((seq * symbol.charCodeAt(0)) % 50), seq });
        }
      }
      return seq;
    },
    dropAll: () => server.dropAll(),
    close: () => server.close(),
  };
}
