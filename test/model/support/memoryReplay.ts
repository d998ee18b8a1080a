import { type SimulatedClock } from 'xstate';
import { expect } from 'vitest';
import type { Connection } from '../../../src/index.js';
import { countingEnvironment } from '../../../src/testing/replay.js';
import { type ConnectionPath, replayPath } from '../../../src/testing/index.js';
import type { Coverage } from './coverage.js';
import { KNOWN_BUGS, type StepEvents, emptyStepEvents, expectedEvents, normalize } from './expect.js';

/** Timers waiting on a SimulatedClock (its map is private in the declarations, public at run time). */
export function pendingTimers(clock: SimulatedClock): number {
  return (clock as unknown as { timeouts: Map<unknown, unknown> }).timeouts.size;
}

/** Lets promise chains (the URL provider, the token provider) run; no time passes on the clock. */
export const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

/** replayPath's counting environment, with the count as a property (as the property tests read it). */
export function countedEnvironment() {
  const counted = countingEnvironment();
  return {
    ...counted,
    get subscribers() {
      return counted.subscribers();
    },
  };
}

/** Records the facade's events into the current step's bucket. */
export function recordStepEvents(conn: Connection): { take(): StepEvents } {
  let current = emptyStepEvents();
  conn.addEventListener('statechange', (e) => current.statechanges.push({ from: e.from, to: e.to }));
  conn.addEventListener('open', () => current.opens++);
  conn.addEventListener('close', (e) => current.closes.push({ code: e.code, closedBy: e.closedBy?.kind }));
  conn.addEventListener('error', () => current.errors++);
  conn.addEventListener('reconnecting', () => current.reconnecting++);
  conn.addEventListener('giveup', () => current.giveups++);
  return {
    take() {
      const taken = current;
      current = emptyStepEvents();
      return taken;
    },
  };
}

export interface ReplayResult {
  /** Known bugs (KNOWN_BUGS keys) the replay met, deviating exactly as described. */
  bugs: Set<string>;
}

/**
 * The project's own replay: `replayPath` from socketchart/testing (which checks state, readyState, the full state
 * value and closedBy at every step, and that close() leaves nothing running), plus the facade's events at every
 * step (README: "When open, close and error fire") and the chart coverage, from the connection's inspection.
 */
export async function replayOnMemory(path: ConnectionPath, coverage: Coverage): Promise<ReplayResult> {
  const bugs = new Set<string>();
  let events: { take(): StepEvents } | undefined;
  let prev = 'idle';
  await replayPath(path, {
    connection: { inspect: coverage.inspect },
    onStart: (conn) => {
      expect(conn.state).toBe('idle');
      events = recordStepEvents(conn);
    },
    onStep: (conn, step) => {
      const actual = normalize(events!.take());
      const expected = expectedEvents(prev, step);
      const bug = step.transitions.find((key) => key in KNOWN_BUGS);
      if (bug && KNOWN_BUGS[bug]!.deviates(expected, actual)) bugs.add(bug);
      else expect(actual, 'events').toEqual(expected);
      if (step.state === 'closed' && prev !== 'closed') expect(conn.closedBy?.kind).toBe(expected.closes[0]?.closedBy);
      prev = step.state;
    },
  });
  return { bugs };
}
