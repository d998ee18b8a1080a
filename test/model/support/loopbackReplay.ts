import { expect } from 'vitest';
import { type ConnectionPath, replayPathOnLoopback } from '../../../src/testing/index.js';
import type { Coverage } from './coverage.js';
import { KNOWN_BUGS, type StepEvents, expectedEvents, normalize } from './expect.js';
import { recordStepEvents } from './memoryReplay.js';

/**
 * A representative subset: shortest paths first, each kept only if it takes a transition the kept ones do not,
 * so a few dozen paths take (almost) every transition the loopback server can cause.
 */
export function representative(paths: readonly ConnectionPath[], max: number): ConnectionPath[] {
  const taken = new Set<string>();
  const chosen: ConnectionPath[] = [];
  const candidates = paths.filter((p) => p.kind === 'shortest').sort((a, b) => a.steps.length - b.steps.length);
  for (const path of candidates) {
    if (chosen.length >= max) break;
    const keys = path.steps.flatMap((s) => s.transitions);
    if (keys.every((k) => taken.has(k))) continue;
    for (const k of keys) taken.add(k);
    chosen.push(path);
  }
  return chosen;
}

/**
 * The project's loopback replay: `replayPathOnLoopback` from socketchart/testing (a real `ws` server, the Node
 * transport, state checked at every step, nothing left after close) plus the facade's events. Events may land a
 * step late over a network, so their totals over the path are compared, not each step's.
 */
export async function replayOnLoopback(path: ConnectionPath, coverage: Coverage): Promise<{ accepted: number; skipped: string[] }> {
  let events: { take(): StepEvents } | undefined;
  const expectedTotals = { opens: 0, closes: [] as Array<string | undefined>, reconnecting: 0, giveups: 0 };
  const actualTotals = { opens: 0, closes: [] as Array<string | undefined>, reconnecting: 0, giveups: 0 };
  let prev = 'idle';
  const result = await replayPathOnLoopback(path, {
    connection: { inspect: coverage.inspect },
    onStart: (conn) => void (events = recordStepEvents(conn)),
    onStep: (_conn, step) => {
      const expected = expectedEvents(prev, step);
      const bug = step.transitions.find((key) => key in KNOWN_BUGS);
      const actual = normalize(events!.take());
      if (bug && KNOWN_BUGS[bug]!.deviates(expected, actual)) expected.closes = [];
      expectedTotals.opens += expected.opens;
      expectedTotals.closes.push(...expected.closes.map((c) => c.closedBy));
      expectedTotals.reconnecting += expected.reconnecting;
      expectedTotals.giveups += expected.giveups;
      actualTotals.opens += actual.opens;
      actualTotals.closes.push(...actual.closes.map((c) => c.closedBy));
      actualTotals.reconnecting += actual.reconnecting;
      actualTotals.giveups += actual.giveups;
      prev = step.state;
    },
  });
  expect(actualTotals, `events of ${path.id} (${path.description})`).toEqual(expectedTotals);
  // Every handshake the path opened went through the real server, and no other.
  expect(result.handshakes).toBe(path.steps.filter((s) => s.event.type === 'SOCKET.OPEN').length);
  return { accepted: result.handshakes, skipped: result.skipped.map((s) => s.step.event.type) };
}
