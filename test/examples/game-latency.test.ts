import { expect, it } from 'vitest';
import { run } from '../../examples/game-latency/main.js';

it('game: moves reach the other player, RTT includes the server lag, a hung server is replaced', async () => {
  const result = await run(() => {});
  // The server delays every pong by 25 ms, so the measured round trip cannot be shorter.
  expect(result.rtt.p1).toBeGreaterThanOrEqual(25);
  expect(result.rtt.p2).toBeGreaterThanOrEqual(25);
  expect(result.p1Metrics.rtt).toBeGreaterThanOrEqual(25);
  expect(result.reason).toBe('Heartbeat timeout');
  expect(result.reconnects).toBe(1);
  expect(result.p1SeenByP2).toEqual({ x: 21, y: 34 });
  // Read before the freeze: a join and three moves. The heartbeat's pings and pongs are not counted as messages.
  expect(result.p1Metrics.messagesOut).toBe(3 + 1);
});
