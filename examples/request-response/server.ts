/**
 * The server half of the request/response example. Every request carries an `id`; the reply carries the same
 * `id`. `getUser` answers at once, `search` after 50 ms, `generateReport` never. The first `getBalance` makes the
 * server crash the connection before answering (no close frame); the resent one, on the new socket, is answered.
 */
import { createTestServer } from '../../src/testing/index.js'; // in an app: 'socketchart/testing', or any ws server
import type { Reply, Request } from './main.js';

type Envelope = Request & { id: string };

export async function startApiServer() {
  /** `type#id` of every request received, in order: a resent request shows up twice with the same id. */
  const received: string[] = [];
  let crashed = false;

  const server = await createTestServer({
    onMessage(socket, data) {
      const request = JSON.parse(String(data)) as Envelope;
      received.push(`${request.type}#${request.id}`);
      const reply = (result: unknown) => socket.send(JSON.stringify({ id: request.id, type: 'result', result } satisfies Reply));
      switch (request.type) {
        case 'getUser':
          reply({ userId: request.userId, name: ['Ada', 'Grace', 'Edsger'][request.userId % 3] });
          break;
        case 'search':
          setTimeout(() => reply({ query: request.query, hits: 3 }), 50);
          break;
        case 'generateReport':
          break; // never answered: the client's timeout decides
        case 'getBalance':
          if (!crashed) {
            crashed = true;
            socket.terminate();
          } else reply({ account: request.account, balance: 1250 });
          break;
      }
    },
  });

  return { url: server.url(), received, close: () => server.close() };
}
