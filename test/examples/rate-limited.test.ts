import { expect, it } from 'vitest';
import { LIMIT, run } from '../../examples/rate-limited/main.js';

it('rate-limited: 30 messages through 20/s (burst 5) all arrive, in order, none dropped, across a drop', async () => {
  const result = await run(() => {});
  expect(result.received).toEqual(Array.from({ length: 30 }, (_, i) => `msg ${i + 1}`));
  expect(result.drops).toEqual([]);
  // Written before the drop, never confirmed: reported, and (the server got them) among the arrivals.
  expect(result.unconfirmed.length).toBeGreaterThan(0);
  for (const text of result.unconfirmed) expect(result.received.slice(0, 10)).toContain(text);
  expect(result.reconnects).toBe(1);
  // The bucket's lower bound: after the burst, one message per 1/perSecond s (a bound, not a timing guess).
  expect(result.elapsed).toBeGreaterThanOrEqual(((30 - LIMIT.burst) / LIMIT.perSecond) * 1000 - 60);
});
