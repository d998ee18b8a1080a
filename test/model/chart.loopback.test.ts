/**
 * A representative subset of the generated paths replayed against a real `ws` server on loopback: the path's
 * transport events become server faults (held, refused and dropped handshakes, close codes, withheld pongs,
 * unanswered close frames) and scripted replies (auth acks), its timers ticks of a `SimulatedClock`.
 */
import { describe, expect, it } from 'vitest';
import { type ConnectionPath, connectionPaths } from '../../src/testing/paths.js';
import { Coverage } from './support/coverage.js';
import { replayOnLoopback, representative } from './support/loopbackReplay.js';

const subset = representative(connectionPaths(), 60);
const coverage = new Coverage();
let handshakes = 0;

describe('generated paths over a real server on loopback', () => {
  it.each(subset.map((p: ConnectionPath) => [`${p.id}: ${p.description}`, p] as const))('%s', async (_name, path) => {
    handshakes += (await replayOnLoopback(path, coverage)).accepted;
  });

  it('reaches every state and most transitions on real sockets', () => {
    const report = coverage.report();
    expect(handshakes).toBeGreaterThan(subset.length / 2);
    console.log(`[model/loopback] ${subset.length} paths, ${handshakes} real handshakes; states ${report.states}; transitions ${report.transitions}`);
    console.log(`[model/loopback] not taken on real sockets: ${report.missingTransitions.join('; ') || 'none'}`);
    expect(report.missingStates).toEqual([]);
    expect(report.takenUnreachable).toEqual([]);
  });
});
