/**
 * `replayPathOnLoopback` from socketchart/testing: a generated path over a real socket to a real `ws` server, with
 * no options; the steps a real server cannot produce are skipped and reported.
 */
import { describe, expect, it } from 'vitest';
import { isSocketchartError } from '../../src/index.js';
import { type ConnectionPath, PathReplayError, connectionPaths, replayPathOnLoopback } from '../../src/testing/index.js';

const paths = connectionPaths();
const byDescription = (variant: string, description: string): ConnectionPath => {
  const path = paths.find((p) => p.variant === variant && p.description === description);
  if (!path) throw new Error(`no path ${description}`);
  return path;
};

describe('replayPathOnLoopback', () => {
  it('replays an auth handshake, a token refusal and a retry on a real socket', async () => {
    const path = byDescription('auth', 'CONNECT → SOCKET.OPEN → SOCKET.CLOSE(4001) → SOCKET.OPEN → AUTH.OK');
    const states: string[] = [];
    const result = await replayPathOnLoopback(path, { onStep: (conn) => void states.push(conn.state) });
    expect(result).toEqual({ path: path.id, replayed: 5, skipped: [], handshakes: 2 });
    expect(states).toEqual(path.steps.map((s) => s.state));
  });

  it('skips a socket error without a close (a real socket reports both), says why, and replays the rest', async () => {
    const path = byDescription('auth', 'CONNECT → SOCKET.OPEN → SOCKET.CLOSE(4001) → SOCKET.ERROR');
    const indexes: number[] = [];
    const result = await replayPathOnLoopback(path, { onStep: (_conn, _step, index) => void indexes.push(index) });
    const errorSteps = path.steps.flatMap((s, i) => (s.event.type === 'SOCKET.ERROR' ? [i] : []));
    expect(result.skipped.map((s) => s.index)).toEqual(errorSteps);
    expect(result.skipped[0]!.reason).toMatch(/only together with its close/);
    expect(result.replayed).toBe(path.steps.length - errorSteps.length);
    expect(indexes).toEqual(path.steps.map((_s, i) => i).filter((i) => !errorSteps.includes(i)));
    expect(result.handshakes).toBe(1);
  });

  it('rejects with the path id and step index when the real connection differs', async () => {
    const path = byDescription('auth', 'CONNECT → SOCKET.OPEN → AUTH.OK');
    const wrong = { ...path, steps: path.steps.map((s, i) => (i === 2 ? { ...s, state: 'closing' } : s)) };
    // The connection never gets to the claimed state: the replay gives up on the step after stepTimeout (real ms).
    const error = await replayPathOnLoopback(wrong, { stepTimeout: 100 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PathReplayError);
    expect(error).toMatchObject({ pathId: path.id, index: 2 });
    expect((error as Error).message).toContain('step index 2 (AUTH.OK, 3 of 3)');
    expect((error as Error).message).toContain("conn.state is 'open', the path expects 'closing'");
  });

  it('refuses a stepTimeout that is not a positive number', async () => {
    const error = await replayPathOnLoopback(paths[0]!, { stepTimeout: 0 }).catch((e: unknown) => e);
    expect(isSocketchartError(error) && error.code).toBe('ERR_INVALID_OPTION');
  });
});
