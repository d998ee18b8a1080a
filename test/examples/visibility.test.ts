import { expect, it } from 'vitest';
import { run } from '../../examples/visibility/main.js';

it('visibility: no attempts while offline, connect on online, immediate retry when visible', async () => {
  const result = await run(() => {});
  expect(result.attemptsWhileOffline).toBe(0);
  expect(result.transitions).toEqual([
    'connecting.opening -> open (SOCKET.OPEN)',
    'open -> reconnecting.waitingForNetwork (NETWORK.OFFLINE)',
    'reconnecting.waitingForNetwork -> connecting.opening (NETWORK.ONLINE)',
    'connecting.opening -> open (SOCKET.OPEN)',
    'open -> reconnecting.backoff (SOCKET.CLOSE)',
    'reconnecting.backoff -> connecting.opening (PAGE.VISIBLE)', // becameVisible(), not the 5 s timer
    'connecting.opening -> open (SOCKET.OPEN)',
    'open -> closing (CLOSE)',
    'closing -> closed (SOCKET.CLOSE)',
  ]);
  expect(result.accepted).toBe(3);
});
