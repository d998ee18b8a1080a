import { expect, it } from 'vitest';
import { run } from '../../examples/request-response/main.js';

it('request/response: replies matched by id, a timeout, and a request resent across a reconnect', async () => {
  const result = await run(() => {});
  expect(result.results).toEqual([
    { userId: 1, name: 'Grace' },
    { query: 'statecharts', hits: 3 },
    { userId: 2, name: 'Edsger' },
    { account: 'acme', balance: 1250 },
  ]);
  expect(result.timeoutCode).toBe('ERR_REQUEST_TIMEOUT');
  expect(result.reconnects).toBe(1);
  expect(result.received).toEqual(['getUser#1', 'search#2', 'getUser#3', 'generateReport#4', 'getBalance#5', 'getBalance#5']);
});
