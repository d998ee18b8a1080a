import { describe, expect, it } from 'vitest';
import { type StatusSnapshot, formatDelay, formatDuration, renderStatusLine, toneOf, truncate, visibleWidth } from '../../src/cli/statusLine.js';

const base: StatusSnapshot = { state: 'open', attempt: null, retryIn: null, uptime: 72_000, messagesIn: 3, messagesOut: 4, rtt: 2.4 };
const plain = { columns: 200, color: false };

describe('status line (pure)', () => {
  it('open: green, state path, uptime, messages in/out, RTT', () => {
    expect(renderStatusLine(base, plain)).toBe('[green] open │ up 1:12 │ in 3 out 4 │ rtt 2 ms');
  });

  it('reconnecting: yellow, the retry number and the time until it; no uptime', () => {
    const line = renderStatusLine({ ...base, state: 'reconnecting.backoff', attempt: 3, retryIn: 1234, uptime: 0, rtt: null, reconnects: 2 }, plain);
    expect(line).toBe('[yellow] reconnecting.backoff │ retry 3 in 1.2 s │ in 3 out 4 │ rtt - │ reconnects 2');
  });

  it('connecting after a retry: the retry number, no countdown; closed is red', () => {
    expect(renderStatusLine({ ...base, state: 'connecting.opening', attempt: 3, retryIn: -5 }, plain)).toMatch(/^\[yellow\] connecting\.opening │ retry 3 │/);
    expect(renderStatusLine({ ...base, state: 'closed' }, plain)).toMatch(/^\[red\] closed │ in 3/);
    expect(toneOf('closing')).toBe('red');
    expect(toneOf('idle')).toBe('yellow');
    expect(toneOf('connecting.authenticating')).toBe('yellow');
  });

  it('colored: ANSI dot in the tone, dim separators, and the same visible text', () => {
    const colored = renderStatusLine(base, { columns: 200, color: true });
    expect(colored.startsWith('\x1b[32m●\x1b[0m open')).toBe(true);
    expect(colored).toContain('\x1b[2m │ \x1b[0m');
    expect(visibleWidth(colored)).toBe(visibleWidth(renderStatusLine(base, plain).replace('[green]', '●')));
  });

  it.each([10, 20, 33, 41, 80])('never wider than the terminal minus one column (%i columns)', (columns) => {
    for (const color of [true, false]) {
      const line = renderStatusLine({ ...base, state: 'reconnecting.backoff', attempt: 12, retryIn: 25_000, reconnects: 40 }, { columns, color });
      expect(visibleWidth(line)).toBeLessThanOrEqual(columns - 1);
      if (color && line.includes('…')) expect(line.endsWith('\x1b[0m') || line.endsWith('…')).toBe(true);
    }
  });

  it('truncate keeps color codes and marks the cut', () => {
    expect(truncate('abcdef', 4)).toBe('abc…');
    expect(truncate('abc', 3)).toBe('abc');
    expect(truncate('\x1b[31mabcdef\x1b[0m', 3)).toBe('\x1b[31mab…\x1b[0m');
  });

  it('durations and delays', () => {
    expect(formatDuration(0)).toBe('0:00');
    expect(formatDuration(59_999)).toBe('0:59');
    expect(formatDuration(3_723_000)).toBe('1:02:03');
    expect(formatDelay(-3)).toBe('0 ms');
    expect(formatDelay(350)).toBe('350 ms');
    expect(formatDelay(1250)).toBe('1.3 s');
    expect(formatDelay(30_000)).toBe('30 s');
  });
});
