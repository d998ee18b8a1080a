import { expect, it } from 'vitest';
import { run } from '../../examples/live-data/main.js';

it('live data: unsubscribed symbols stop, and the subscriptions are replayed after a server drop', async () => {
  const { ticks, requests } = await run(() => {});
  expect(ticks.map((symbols) => [...symbols].sort())).toEqual([
    ['AAPL', 'GOOGL'],
    ['AAPL', 'MSFT'],
    ['AAPL', 'MSFT'],
  ]);
  expect(requests).toEqual([
    { action: 'subscribe', symbols: ['AAPL'] },
    { action: 'subscribe', symbols: ['GOOGL'] },
    { action: 'unsubscribe', symbols: ['GOOGL'] },
    { action: 'subscribe', symbols: ['MSFT'] },
    // after the drop, on the new socket: only what is still subscribed
    { action: 'subscribe', symbols: ['AAPL'] },
    { action: 'subscribe', symbols: ['MSFT'] },
  ]);
});
