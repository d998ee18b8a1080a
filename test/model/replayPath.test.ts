/**
 * `replayPath` from socketchart/testing: with no options it replays every path `connectionPaths()` yields (every
 * variant, shortest and simple) exactly as generated; it says where a connection differs from its path.
 */
import { describe, expect, it } from 'vitest';
import { isSocketchartError } from '../../src/index.js';
import { type ConnectionPath, PathReplayError, connectionPaths, replayPath } from '../../src/testing/index.js';

const paths = connectionPaths({ simple: true });

describe('replayPath replays every generated path with no options', () => {
  it.each(paths.map((p) => [`${p.id}: ${p.description}`, p] as const))('%s', async (_name, path) => {
    await expect(replayPath(path)).resolves.toBeUndefined();
  });
});

/** A copy of `path` whose step `index` claims something else. */
function altered(path: ConnectionPath, index: number, change: Partial<ConnectionPath['steps'][number]>): ConnectionPath {
  return { ...path, steps: path.steps.map((s, i) => (i === index ? { ...s, ...change } : s)) };
}

const find = (predicate: (p: ConnectionPath) => boolean) => {
  const path = paths.find(predicate);
  if (!path) throw new Error('no such path');
  return path;
};

describe('replayPath reports where the connection differs', () => {
  const opened = find((p) => p.variant === 'plain' && p.description === 'CONNECT → SOCKET.OPEN');
  const giveup = find((p) => p.steps.some((s) => s.closedBy === 'giveup'));

  it('rejects with the path id, the step index and the state it found', async () => {
    const error = await replayPath(altered(opened, 1, { state: 'closing' })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PathReplayError);
    expect(error).toMatchObject({ pathId: opened.id, index: 1 });
    expect((error as Error).message).toContain(`path ${opened.id} (CONNECT → SOCKET.OPEN), step index 1 (SOCKET.OPEN, 2 of 2)`);
    expect((error as Error).message).toContain("conn.state is 'open', the path expects 'closing'");
  });

  it('checks readyState and closedBy.kind', async () => {
    await expect(replayPath(altered(opened, 1, { readyState: 0 }))).rejects.toThrow('conn.readyState is 1, the path expects 0');
    const last = giveup.steps.findIndex((s) => s.closedBy === 'giveup');
    await expect(replayPath(altered(giveup, last, { closedBy: 'server' }))).rejects.toThrow("conn.closedBy.kind is 'giveup', the path expects 'server'");
  });

  it('runs onStart in idle, then onStep after every step with the connection in that step', async () => {
    const seen: string[] = [];
    await replayPath(giveup, {
      onStart: (conn) => void seen.push(`start ${conn.state}`),
      onStep: async (conn, step, index) => {
        await Promise.resolve();
        seen.push(`${index} ${conn.state} ${step.state}`);
      },
    });
    expect(seen).toEqual(['start idle', ...giveup.steps.map((s, i) => `${i} ${s.state} ${s.state}`)]);
  });

  it("prefixes the app's own assertion error with where it failed", async () => {
    const error = await replayPath(opened, {
      onStep: (conn) => {
        if (conn.state === 'open') throw new Error('badge shows grey');
      },
    }).catch((e: unknown) => e);
    expect((error as Error).message).toBe(`path ${opened.id} (CONNECT → SOCKET.OPEN), step index 1 (SOCKET.OPEN, 2 of 2): badge shows grey`);
  });

  it('rejects when onStep moves the connection itself', async () => {
    await expect(replayPath(opened, { onStep: (conn) => conn.close() })).rejects.toThrow(
      "step index 1 (SOCKET.OPEN, 2 of 2): the connection moved from 'connecting.opening' to 'closed' before the step",
    );
  });

  it('merges connection options over the variant one level deep (a backoff setting keeps the variant’s delays)', async () => {
    const backoff = find((p) => p.variant === 'plain' && p.steps.some((s) => s.timer === 'retryDelay'));
    await replayPath(backoff, { connection: { backoff: { maxDelay: 30_000 } } });
    // Replacing the whole backoff (default initialDelay) would make the path's timer wrong:
    await expect(replayPath(backoff, { connection: { backoff: { initialDelay: 1_000 } } })).rejects.toThrow(PathReplayError);
    const messages: unknown[] = [];
    const probe = find((p) => p.steps.some((s) => s.event.type === 'SERVER.MESSAGE'));
    await replayPath(probe, { onStart: (conn) => conn.addEventListener('message', (e) => messages.push(e.data)) });
    expect(messages).toContain('{"type":"replay.message"}');
  });

  it.each([
    ['no path', () => replayPath(undefined as never)],
    ['an unknown variant', () => replayPath({ ...opened, variant: 'nope' as never })],
    ['options that are not an object', () => replayPath(opened, 42 as never)],
    ['an onStep that is not a function', () => replayPath(opened, { onStep: 'x' as never })],
    ['its own transport', () => replayPath(opened, { connection: { transport: {} } as never })],
    ['its own clock', () => replayPath(opened, { connection: { clock: {} } as never })],
  ])('refuses %s with ERR_INVALID_OPTION', async (_name, run) => {
    const error = await run().catch((e: unknown) => e);
    expect(isSocketchartError(error) && error.code).toBe('ERR_INVALID_OPTION');
  });
});
