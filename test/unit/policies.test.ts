import { readFileSync } from 'node:fs';
import { SimulatedClock } from 'xstate';
import { describe, expect, it } from 'vitest';
import { createConnection } from '../../src/index.js';
import { DEFAULTS } from '../../src/options.js';
import { type BackoffOptions, backoffDelay, mayRetry } from '../../src/policies/backoff.js';
import { DEFAULT_CLOSE_ACTIONS, classifyClose, isValidUserCloseCode } from '../../src/policies/closeCodes.js';
import { type Dropped, OutboundQueue, type ResolvedQueue } from '../../src/policies/queue.js';
import { byteLengthOf, utf8Length } from '../../src/data.js';
import { createMemoryTransport } from '../../src/transports/memory.js';
import { MAX_DELAY, closest, delay, editDistance, isDelay } from '../../src/validate.js';
import { recordEvents } from '../support/events.js';

const backoff = { ...DEFAULTS.backoff };

describe('backoff', () => {
  it('draws from [0, window) with full jitter; the window doubles and is capped', () => {
    expect(backoffDelay(1, backoff, 'normal', () => 0)).toBe(0);
    expect(backoffDelay(1, backoff, 'normal', () => 0.999)).toBe(399);
    expect(backoffDelay(2, backoff, 'normal', () => 0.5)).toBe(400);
    expect(backoffDelay(3, backoff, 'normal', () => 0.5)).toBe(800);
    expect(backoffDelay(30, backoff, 'normal', () => 0.5)).toBe(15_000);
  });

  it('keeps the first retry after a drop fast: median <= 250 ms', () => {
    const draws = Array.from({ length: 10_001 }, () => backoffDelay(1, backoff)).sort((a, b) => a - b);
    expect(draws[5000]).toBeLessThanOrEqual(250);
  });

  it('spreads 1000 clients dropped together: no 50 ms slot holds more than 20%', () => {
    const slots = new Map<number, number>();
    for (let i = 0; i < 1000; i++) {
      const slot = Math.floor(backoffDelay(1, backoff) / 50);
      slots.set(slot, (slots.get(slot) ?? 0) + 1);
    }
    expect(Math.max(...slots.values())).toBeLessThan(200);
    expect(slots.size).toBeGreaterThanOrEqual(7);
  });

  it('waits at least half of tryAgainLaterDelay after 1013', () => {
    expect(backoffDelay(1, backoff, 'later', () => 0)).toBe(2500);
    expect(backoffDelay(1, backoff, 'later', () => 0.999)).toBe(4997);
  });

  it('counts retries against maxRetries', () => {
    expect(mayRetry(2, { ...backoff, maxRetries: 3 })).toBe(true);
    expect(mayRetry(3, { ...backoff, maxRetries: 3 })).toBe(false);
    expect(mayRetry(1e9, backoff)).toBe(true);
  });
});

describe('backoff.maxRetries on a connection', () => {
  /** Refuses every attempt until the connection gives up; returns how many attempts failed. */
  function failedAttemptsUntilGiveup(backoffOptions: BackoffOptions): { failed: number; log: string[] } {
    const memory = createMemoryTransport();
    const clock = new SimulatedClock();
    const conn = createConnection('ws://example.test/', { transport: memory.transport, clock, random: () => 0.5, backoff: backoffOptions });
    const log = recordEvents(conn, ['reconnecting', 'giveup', 'close']);
    let failed = 0;
    while (conn.state !== 'closed' && failed < 50) {
      memory.last!.refuse();
      failed++;
      clock.increment(60_000);
    }
    expect(conn.closedBy?.kind).toBe('giveup');
    return { failed, log };
  }

  it('maxRetries: N gives up on the (N + 1)th failed attempt in a row, as the README says', () => {
    expect(failedAttemptsUntilGiveup({ maxRetries: 2 })).toEqual({
      failed: 3,
      log: ['reconnecting', 'reconnecting', 'giveup', 'close:1006'],
    });
    expect(failedAttemptsUntilGiveup({ maxRetries: 0 }).failed).toBe(1);
    const row = readFileSync(new URL('../../README.md', import.meta.url), 'utf8').match(/^\| `backoff\.maxRetries` \| .+$/m)?.[0];
    expect(row).toMatch(/retries/);
    expect(row).toMatch(/N \+ 1/);
  });

  it('keeps maxAttempts as the former name of maxRetries, with the same count, and refuses both at once', () => {
    expect(failedAttemptsUntilGiveup({ maxAttempts: 2 }).failed).toBe(3);
    expect(() =>
      createConnection('ws://example.test/', { transport: createMemoryTransport().transport, backoff: { maxRetries: 2, maxAttempts: 2 } }),
    ).toThrow(expect.objectContaining({ code: 'ERR_INVALID_OPTION', message: expect.stringContaining('backoff.maxRetries') }));
    expect(() => createConnection('ws://example.test/', { transport: createMemoryTransport().transport, backoff: { maxAttempts: 1.5 } })).toThrow(
      expect.objectContaining({ message: expect.stringContaining('backoff.maxAttempts') }),
    );
  });
});

describe('close codes', () => {
  it('classifies the defaults', () => {
    for (const code of [1001, 1006, 1011, 1012]) expect(classifyClose(code, '')).toBe('retry');
    expect(classifyClose(1013, '')).toBe('retry-later');
    for (const code of [1002, 1003, 1007, 1009, 1010]) expect(classifyClose(code, '')).toBe('fatal');
    for (const code of [4000, 4500, 4999]) expect(classifyClose(code, '')).toBe('retry');
    expect(DEFAULT_CLOSE_ACTIONS[1000]).toBe('retry');
  });

  it('lets a table or a classifier override, falling back to the defaults', () => {
    expect(classifyClose(4001, '', { 4001: 'fatal' })).toBe('fatal');
    expect(classifyClose(1011, '', { 4001: 'fatal' })).toBe('retry');
    const classifier = (code: number, reason: string) => (reason === 'banned' ? 'fatal' : code === 1002 ? 'retry' : undefined);
    expect(classifyClose(4000, 'banned', classifier)).toBe('fatal');
    expect(classifyClose(1002, '', classifier)).toBe('retry');
    expect(classifyClose(1003, '', classifier)).toBe('fatal');
  });

  it('accepts the user close codes WHATWG accepts', () => {
    expect([1000, 3000, 4999].every(isValidUserCloseCode)).toBe(true);
    expect([999, 1001, 1005, 2999, 5000, 1000.5, NaN].some(isValidUserCloseCode)).toBe(false);
  });
});

describe('outbound queue', () => {
  const make = (overrides: Partial<ResolvedQueue> = {}) => {
    const dropped: Dropped[] = [];
    const queue = new OutboundQueue({ ...DEFAULTS.queue, ...overrides }, (d) => dropped.push(d));
    return { queue, dropped };
  };

  it('flushes in order and counts bytes', () => {
    const { queue } = make();
    queue.enqueue('a', 0);
    queue.enqueue('é', 0);
    queue.enqueue(new Uint8Array(5), 0);
    expect(queue.bytes).toBe(1 + 2 + 5);
    const out: unknown[] = [];
    queue.drainWhile(() => true, (d) => out.push(d), 0);
    expect(out).toEqual(['a', 'é', new Uint8Array(5)]);
    expect(queue.length).toBe(0);
    expect(queue.bytes).toBe(0);
  });

  it('drop-oldest makes room by dropping the oldest, reported', () => {
    const { queue, dropped } = make({ maxMessages: 2 });
    for (const m of ['1', '2', '3']) queue.enqueue(m, 0);
    expect(dropped).toEqual([{ data: '1', reason: 'queue-full' }]);
    const out: unknown[] = [];
    queue.drainWhile(() => true, (d) => out.push(d), 0);
    expect(out).toEqual(['2', '3']);
  });

  it('drop-newest refuses the new message, reported', () => {
    const { queue, dropped } = make({ maxBytes: 2, overflow: 'drop-newest' });
    queue.enqueue('ab', 0);
    queue.enqueue('c', 0);
    expect(dropped).toEqual([{ data: 'c', reason: 'queue-full' }]);
  });

  it('reject hands the decision back to the caller', () => {
    const { queue, dropped } = make({ maxMessages: 1, overflow: 'reject' });
    expect(queue.enqueue('a', 0)).toBe('queued');
    expect(queue.enqueue('b', 0)).toBe('rejected');
    expect(dropped).toEqual([]);
  });

  it('drops a message bigger than the whole byte budget as too-large', () => {
    const { queue, dropped } = make({ maxBytes: 3 });
    queue.enqueue('abcd', 0);
    expect(dropped).toEqual([{ data: 'abcd', reason: 'too-large' }]);
  });

  it('expires messages older than ttl', () => {
    const { queue, dropped } = make({ ttl: 100 });
    queue.enqueue('old', 0);
    queue.enqueue('new', 50);
    const out: unknown[] = [];
    queue.drainWhile(() => true, (d) => out.push(d), 120);
    expect(dropped).toEqual([{ data: 'old', reason: 'expired' }]);
    expect(out).toEqual(['new']);
  });

  it('keeps order for messages re-queued while flushing', () => {
    const { queue } = make();
    queue.enqueue('a', 0);
    queue.enqueue('b', 0);
    const out: unknown[] = [];
    queue.drainWhile(
      () => true,
      (d) => {
        out.push(d);
        if (d === 'a') queue.enqueue('c', 0);
      },
      0,
    );
    expect(out).toEqual(['a', 'b', 'c']);
  });

  it('clear reports every message', () => {
    const { queue, dropped } = make();
    queue.enqueue('a', 0);
    queue.enqueue('b', 0);
    queue.clear('closed');
    expect(dropped.map((d) => d.reason)).toEqual(['closed', 'closed']);
    expect(queue.bytes).toBe(0);
  });
});

describe('byte lengths', () => {
  it('matches TextEncoder for strings, including astral characters and lone surrogates', () => {
    for (const text of ['', 'abc', 'héllo', '€', '😀x', '\ud800', 'a\udc00b']) {
      expect(utf8Length(text)).toBe(new TextEncoder().encode(text).length);
    }
    expect(byteLengthOf(new ArrayBuffer(7))).toBe(7);
    expect(byteLengthOf(new DataView(new ArrayBuffer(9), 2))).toBe(7);
    expect(byteLengthOf(new Blob(['abc']))).toBe(3);
  });
});

describe('the validation kit', () => {
  it('measures edit distance with a swap of neighbours as one edit', () => {
    expect(editDistance('', '')).toBe(0);
    expect(editDistance('ttl', 'tll')).toBe(1);
    expect(editDistance('interval', 'itnerval')).toBe(1);
    expect(editDistance('reconecttimeout', 'connecttimeout')).toBe(3);
    expect(editDistance('kitten', 'sitting')).toBe(3);
  });

  it('suggests the nearest key only when it is near enough to be a typo', () => {
    const keys = ['maxDelay', 'maxRetries', 'resetAfter'];
    expect(closest('maxRetry', keys)).toBe('maxRetries');
    expect(closest('MAXDELAY', keys)).toBe('maxDelay');
    expect(closest('xyzzy', keys)).toBeUndefined();
    expect(closest('max', keys)).toBeUndefined();
  });

  it('caps delays at setTimeout ceiling, 2^31 - 1 ms', () => {
    expect(isDelay(MAX_DELAY)).toBe(true);
    expect(isDelay(2 ** 31)).toBe(false);
    expect(isDelay(Infinity)).toBe(false);
    expect(isDelay(Infinity, true)).toBe(true);
    expect(() => delay('x', 2 ** 31, 0)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_OPTION', message: expect.stringContaining('`x`') }));
  });
});
