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
const skipped = new Set<string>();

describe('generated paths over a real server on loopback', () => {
  it.each(subset.map((p: ConnectionPath) => [`${p.id}: ${p.description}`, p] as const))('%s', async (_name, path) => {
    const result = await replayOnLoopback(path, coverage);
    handshakes += result.accepted;
    for (const type of result.skipped) skipped.add(type);
  });

  it('reaches every state and every transition on real sockets', () => {
    const report = coverage.report();
    console.log(`[model/loopback] ${subset.length} paths, ${handshakes} real handshakes; states ${report.states}; transitions ${report.transitions}`);
    console.log(`[model/loopback] not taken on real sockets: ${report.missingTransitions.join('; ') || 'none'}`);
    expect(handshakes).toBe(subset.reduce((n, p) => n + p.steps.filter((s) => s.event.type === 'SOCKET.OPEN').length, 0));
    expect(report.missingStates).toEqual([]);
    expect(report.missingTransitions).toEqual([]);
    // A real server produces every step but a socket error without its close.
    expect([...skipped]).toEqual(['SOCKET.ERROR']);
    expect(report.takenUnreachable).toEqual([]);
  });
});
