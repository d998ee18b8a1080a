/**
 * Model-based tests: every path generated from the chart (src/testing/paths.ts) replayed on a real `Connection`
 * over the memory transport, then state and transition coverage of the chart, measured on the real actors.
 */
import { describe, expect, it } from 'vitest';
import { type ConnectionPath, PATH_VARIANTS, chartTransitions, connectionPaths } from '../../src/testing/paths.js';
import { Coverage, UNREACHABLE } from './support/coverage.js';
import { KNOWN_BUGS } from './support/expect.js';
import { replayOnMemory } from './support/memoryReplay.js';

const paths = connectionPaths({ simple: true });
const coverage = new Coverage();
const bugsSeen = new Set<string>();

const label = (path: ConnectionPath) => `${path.id}: ${path.description}`;

describe.each(Object.keys(PATH_VARIANTS))('variant %s', (variant) => {
  const mine = paths.filter((p) => p.variant === variant);

  it('has paths', () => {
    expect(mine.length).toBeGreaterThan(0);
  });

  it.each(mine.map((p) => [label(p), p] as const))('%s', async (_name, path) => {
    const { bugs } = await replayOnMemory(path, coverage);
    for (const bug of bugs) bugsSeen.add(bug);
  });
});

describe('coverage of the chart by the replays', () => {
  it('names only transitions that exist as unreachable', () => {
    const keys = new Set(chartTransitions().map((t) => t.key));
    for (const key of Object.keys(UNREACHABLE)) expect(keys.has(key), key).toBe(true);
    for (const key of Object.keys(KNOWN_BUGS)) expect(keys.has(key), key).toBe(true);
  });

  it('covers every state and every reachable transition (a new transition fails here until a path takes it)', () => {
    const report = coverage.report();
    const shortest = paths.filter((p) => p.kind === 'shortest').length;
    console.log(
      `[model] ${paths.length} paths (${shortest} shortest, ${paths.length - shortest} simple), ` +
        `${paths.reduce((n, p) => n + p.steps.length, 0)} steps; states ${report.states}; transitions ${report.transitions}`,
    );
    expect(report.missingStates).toEqual([]);
    expect(report.missingTransitions).toEqual([]);
    expect(report.takenUnreachable).toEqual([]);
  });

  it.each(Object.entries(KNOWN_BUGS))('known chart bug still present (remove it from KNOWN_BUGS once fixed): %s', (key, bug) => {
    expect(bugsSeen.has(key), `${key}: ${bug.symptom}`).toBe(true);
  });
});
