/**
 * Live data: the API reference's `DataStreamWebSocket`, on socketchart.
 *
 * Each symbol is a `conn.subscribe(subscribe, { unsubscribe })`: the subscribe message goes out now and again after
 * every reconnect, until `unsubscribe()` stops that and sends the unsubscribe message. No list of symbols to
 * keep in sync by hand, no `onopen` that resends it, no `setTimeout(connect, 5000)` in `onerror`.
 *
 * Run: npx tsx examples/live-data/main.ts
 */
import { fileURLToPath } from 'node:url';
import { type Subscription, createConnection, jsonCodec } from '../../src/node.js'; // in an app: 'socketchart/node'
import { router } from '../../src/plugins/router.js'; // in an app: 'socketchart/router'
import { startPriceFeed } from './server.js';

export type FeedRequest = { action: 'subscribe' | 'unsubscribe'; symbols: string[] };
export type FeedMessage =
  | { type: 'price_update'; symbol: string; price: number; seq: number }
  | { type: 'subscriptions'; symbols: string[] };

/** The client: a connection plus one `Subscription` per symbol. */
export function createPriceStream(url: string) {
  const conn = createConnection<FeedMessage, FeedRequest>(url, { codec: jsonCodec(), router: router(), backoff: { initialDelay: 100 } });
  const symbols = new Map<string, Subscription>();
  return {
    conn,
    addSymbol(symbol: string) {
      if (symbols.has(symbol)) return;
      symbols.set(
        symbol,
        conn.subscribe({ action: 'subscribe', symbols: [symbol] }, { unsubscribe: { action: 'unsubscribe', symbols: [symbol] } }),
      );
    },
    removeSymbol(symbol: string) {
      symbols.get(symbol)?.unsubscribe();
      symbols.delete(symbol);
    },
  };
}

/** The scripted scenario: subscribe, change symbols, survive a server drop with the subscriptions intact. */
export async function run(log: (line: string) => void = console.log) {
  const feed = await startPriceFeed();
  const stream = createPriceStream(feed.url);
  const { conn } = stream;
  /** Symbols that got a price, per tick. */
  const ticks: string[][] = [];
  conn.on('price_update', (m) => {
    log(`  ${m.symbol}: $${m.price}`);
    (ticks[m.seq - 1] ??= []).push(m.symbol);
  });
  conn.on('subscriptions', (m) => log(`  server confirms: ${m.symbols.join(', ') || '(none)'}`));

  /** Resolves when the server confirms exactly `symbols`. */
  const confirmed = (...symbols: string[]) =>
    new Promise<void>((resolve) => {
      const handler = (m: { symbols: string[] }) => {
        if (m.symbols.length !== symbols.length || !symbols.every((s) => m.symbols.includes(s))) return;
        conn.off('subscriptions', handler);
        resolve();
      };
      conn.on('subscriptions', handler);
    });
  /** Publishes a tick and resolves when `count` of its prices have arrived. */
  const tick = (count: number) =>
    new Promise<void>((resolve) => {
      const seq = feed.tick();
      const handler = () => {
        if ((ticks[seq - 1]?.length ?? 0) < count) return;
        conn.off('price_update', handler);
        resolve();
      };
      conn.on('price_update', handler);
    });

  log('subscribe to AAPL and GOOGL (sent as soon as the connection opens)');
  stream.addSymbol('AAPL');
  stream.addSymbol('GOOGL');
  await confirmed('AAPL', 'GOOGL');
  await tick(2);

  log('unsubscribe GOOGL, subscribe MSFT');
  stream.removeSymbol('GOOGL');
  stream.addSymbol('MSFT');
  await confirmed('AAPL', 'MSFT');
  await tick(2);

  log('the server drops every connection; the new socket starts with no subscriptions');
  const resubscribed = confirmed('AAPL', 'MSFT');
  feed.dropAll();
  await resubscribed;
  log(`reconnected (${conn.metrics.reconnects} reconnect) and resubscribed by itself`);
  await tick(2);

  conn.close(1000, 'done');
  await feed.close();
  return { ticks, requests: feed.requests };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await run();
