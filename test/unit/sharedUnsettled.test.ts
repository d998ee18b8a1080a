/**
 * A follower's written-but-unsettled sends in plain mode (src/shared/unsettled.ts), without a browser: the bound and
 * the once-only report (the browser test covers the crash itself).
 */
import { describe, expect, it } from 'vitest';
import { Unsettled } from '../../src/shared/unsettled.js';

const sends = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => ({ seq: from + i, message: `m-${from + i}`, data: `m-${from + i}` }));

function store(limits = { maxMessages: 3, maxBytes: 1_000, confirmEvery: 100 }) {
  const reported: unknown[] = [];
  return { unsettled: new Unsettled(limits, (_data, message) => reported.push(message)), reported };
}

describe('Unsettled (shared connection, plain mode)', () => {
  it('keeps at most unconfirmed.maxMessages: the oldest are no longer kept, and so not reported', () => {
    const { unsettled, reported } = store();
    unsettled.add('L', sends(1, 6));
    expect(unsettled.length).toBe(3);
    unsettled.orphan();
    expect(reported).toEqual(['m-3', 'm-4', 'm-5']);
  });

  it('keeps at most unconfirmed.maxBytes (always the newest one)', () => {
    const { unsettled, reported } = store({ maxMessages: 100, maxBytes: 5, confirmEvery: 100 });
    unsettled.add('L', sends(1, 4));
    unsettled.orphan();
    expect(reported).toEqual(['m-3']);
  });

  it("reports a gone leader's unsettled sends once: what it settled or reported itself is not, nor its late drop reports", () => {
    const { unsettled, reported } = store({ maxMessages: 100, maxBytes: 1_000, confirmEvery: 100 });
    unsettled.add('L', sends(1, 5));
    unsettled.settle('L', 2);
    expect(unsettled.dropped('L', 3)).toBe(true);
    unsettled.add('N', sends(5, 6));
    unsettled.orphan((leader) => leader === 'L');
    expect(reported).toEqual(['m-4']);
    expect(unsettled.dropped('L', 4)).toBe(false);
    unsettled.forget('N');
    unsettled.orphan();
    expect(reported).toEqual(['m-4']);
  });

  it('unconfirmed: false keeps nothing', () => {
    const { reported } = store();
    const off = new Unsettled(null, (_data, message) => reported.push(message));
    off.add('L', sends(1, 3));
    off.orphan();
    expect(reported).toEqual([]);
  });
});
