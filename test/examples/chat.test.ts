import { expect, it } from 'vitest';
import { run } from '../../examples/chat/main.js';

it('chat: rejoins after a server drop and delivers the message typed while disconnected after the join', async () => {
  const result = await run(() => {});
  expect(result.joins).toEqual(['alice', 'bob', 'alice']);
  expect(result.reconnects).toBe(1);
  expect(result.seen.bob).toEqual([
    '-> bob joined',
    'bob: hi alice',
    'alice: hey bob',
    '<- alice left',
    '-> alice joined',
    'alice: back! did you get this?',
  ]);
  expect(result.seen.alice).toEqual([
    '-> alice joined',
    '-> bob joined',
    'bob is typing...',
    'bob: hi alice',
    'alice: hey bob',
    '-> alice joined',
    'alice: back! did you get this?',
    '<- bob left',
  ]);
});
