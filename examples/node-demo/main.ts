/**
 * The Node demo (`npm run demo:node`; `npm start` runs the `socketchart` command's chaos demo): a local echo server, a socketchart connection to it, and the server dropping the
 * connection so you can watch the statechart heal. Everything runs on 127.0.0.1; nothing else is needed.
 */
import { createConnection, logTransitions } from '../../src/node.js'; // in an app: 'socketchart/node'
import { createTestServer } from '../../src/testing/index.js'; // in an app: 'socketchart/testing', or any ws server

const server = await createTestServer();
console.log(`echo server listening on ${server.url()}`);

const conn = createConnection(server.url());
console.log(`created connection: state ${conn.state}, readyState ${conn.readyState}`);
logTransitions(conn);
conn.addEventListener('statechange', (e) => console.log(`           ${e.from} -> ${e.to}  (${e.event.type})`));
conn.onmessage = (e) => console.log(`           received: ${String(e.data)}`);

await conn.opened();
conn.send('hello, statechart');
await next('message');

console.log('\n--- the server drops every connection (TCP reset, no close frame) ---\n');
server.dropAll();
await next('close');
conn.send('sent while reconnecting: queued, delivered after the reconnect');
await next('message');

console.log('\n--- the server refuses the next two handshakes with HTTP 503, then drops us again ---\n');
server.refuseNext(503, 2);
server.dropAll();
await next('open');

console.log('\n--- closing for good ---\n');
conn.close(1000, 'demo finished');
await next('close');
await server.close();
console.log(`\nfinal state: ${conn.state} (closed by ${conn.closedBy?.kind})`);

function next(type: 'open' | 'message' | 'close'): Promise<void> {
  // `once` listeners: each wait sees only the next event of its type.
  return new Promise((resolve) => conn.addEventListener(type, () => resolve(), { once: true }));
}
