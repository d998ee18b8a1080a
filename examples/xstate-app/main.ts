/**
 * An XState app that embeds its connection: the ticker machine (machine.ts) invokes `connectionLogic` in its
 * `watching` state, hears the connection as `socketchart.*` events and drives it with `SEND`.
 *
 * The scenario: watch ACME and get quotes; the server drops the socket (the connection reconnects and the machine
 * resubscribes); stop watching (the socket closes with the state); watch again but stop before the server
 * accepts (the queued subscription comes back as a drop, not lost). Every drop is shown: the first subscription
 * is one too, reported `unconfirmed` when its socket was lost (nothing had confirmed the server got it).
 *
 * Run: npx tsx examples/xstate-app/main.ts
 */
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { createActor, waitFor } from 'xstate';
import { connectionOf } from '../../src/node.js'; // in an app: 'socketchart/node'
import { createTestServer } from '../../src/testing/index.js'; // in an app: 'socketchart/testing'
import { type Status, tickerMachine } from './machine.js';

/** A quote server: three quotes per subscription, prices counting up so each one is told apart. */
async function startQuoteServer() {
  const server = await createTestServer();
  let price = 100;
  server.reply(/"type":"subscribe"/, (text) => {
    const { symbol } = JSON.parse(text) as { symbol: string };
    return [0, 1, 2].map(() => JSON.stringify({ type: 'quote', symbol, price: price++ }));
  });
  return server;
}

export async function run(log: (line: string) => void = console.log) {
  const server = await startQuoteServer();
  const ticker = createActor(tickerMachine, { input: { url: server.url() } });
  const statuses: Status[] = [];
  ticker.subscribe((snapshot) => {
    if (statuses.at(-1) === snapshot.context.status) return;
    statuses.push(snapshot.context.status);
    log(`status: ${snapshot.context.status}`);
  });
  ticker.start();

  log('WATCH ACME');
  ticker.send({ type: 'WATCH', symbol: 'ACME' });
  await waitFor(ticker, (s) => s.context.quotes.length === 3);
  log(`quotes: ${ticker.getSnapshot().context.quotes.join(', ')}`);

  log('the server drops the socket');
  server.dropAll();
  await waitFor(ticker, (s) => s.context.quotes.length === 6);
  const { quotes } = ticker.getSnapshot().context;
  log(`quotes: ${quotes.join(', ')}`);
  // The connection itself, for what events do not carry.
  const reconnects = connectionOf(ticker.getSnapshot().children.conn)?.metrics.reconnects;
  log(`reconnects: ${reconnects}`);

  log('STOP: leaving `watching` closes the socket');
  const serverSide = once([...server.sockets][0]!, 'close');
  ticker.send({ type: 'STOP' });
  const [closeCode] = (await serverSide) as [number];
  log(`the server saw close ${closeCode}`);

  log('WATCH XYZ, and STOP before the server accepts');
  server.holdHandshakes(true);
  ticker.send({ type: 'WATCH', symbol: 'XYZ' });
  await server.waitForHeld();
  ticker.send({ type: 'STOP' });
  const { drops } = ticker.getSnapshot().context;
  for (const { message, reason } of drops) log(`drop (${reason}): ${JSON.stringify(message)}`);

  ticker.stop();
  await server.close();
  return { statuses, quotes, reconnects, closeCode, drops, received: server.received };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await run();
