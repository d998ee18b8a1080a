import { expect, it } from 'vitest';
import { run } from '../../examples/xstate-app/main.js';

it('xstate-app: the ticker machine owns its connection (opens with the state, resubscribes after a drop, closes on exit, reports drops)', async () => {
  const result = await run(() => {});
  expect(result.statuses).toEqual(['stopped', 'connecting', 'live', 'reconnecting', 'connecting', 'live', 'stopped', 'connecting', 'stopped']);
  expect(result.quotes).toEqual([100, 101, 102, 103, 104, 105]);
  expect(result.reconnects).toBe(1);
  expect(result.closeCode).toBe(1000);
  // The resubscription was queued while the socket was down and went out first on the new one.
  expect(result.received).toEqual(['{"type":"subscribe","symbol":"ACME"}', '{"type":"subscribe","symbol":"ACME"}']);
  expect(result.drops).toEqual([
    { message: { type: 'subscribe', symbol: 'ACME' }, reason: 'unconfirmed' },
    { message: { type: 'subscribe', symbol: 'XYZ' }, reason: 'closed' },
  ]);
});
