import { describe, expect, it } from 'vitest';
import { type ChaosTarget, faultsOf, startChaos } from '../../src/cli/chaos.js';

/** A connection stand-in the test moves by hand: `open()` and `lose()` fire what chaos waits for. */
function fakeConnection() {
  let isOpen = true;
  const listeners = { open: [] as Array<() => void>, close: [] as Array<() => void> };
  const next = (type: 'open' | 'close') => new Promise<void>((resolve) => listeners[type].push(resolve));
  const fire = (type: 'open' | 'close') => listeners[type].splice(0).forEach((resolve) => resolve());
  return {
    isOpen: () => isOpen,
    nextOpen: () => next('open'),
    nextClose: () => next('close'),
    lose() {
      isOpen = false;
      fire('close');
    },
    open() {
      isOpen = true;
      fire('open');
    },
  };
}

function fakeServer(calls: string[], withBlackhole = true): ChaosTarget {
  const server: ChaosTarget = {
    dropAll: () => calls.push('dropAll'),
    refuseNext: (status, count) => calls.push(`refuseNext ${status} ${count}`),
    stop: async () => void calls.push('stop'),
    restart: async () => void calls.push('restart'),
  };
  if (withBlackhole) server.blackhole = (on) => calls.push(`blackhole ${on}`);
  return server;
}

describe('chaos (in-process)', () => {
  it('offers blackhole only when the server has it', () => {
    expect(faultsOf(fakeServer([]))).toEqual(['drop', 'refuse', 'restart', 'blackhole']);
    expect(faultsOf(fakeServer([], false))).toEqual(['drop', 'refuse', 'restart']);
  });

  it('injects one fault, waits for the reconnect before the next, and announces each', async () => {
    const calls: string[] = [];
    const lines: string[] = [];
    const conn = fakeConnection();
    const chaos = startChaos(fakeServer(calls), { interval: 10, faults: ['drop'], log: (l) => lines.push(l), ...conn });
    await expect.poll(() => calls).toEqual(['dropAll']);
    conn.lose();
    // Not healed yet: the next fault waits for the open below.
    expect(calls).toEqual(['dropAll']);
    conn.open();
    await expect.poll(() => calls).toEqual(['dropAll', 'dropAll']);
    await chaos.stop();
    expect(lines[0]).toMatch(/^chaos: drop - /);
  });

  it('a blackhole lasts until the connection is lost, and stop() ends one at once', async () => {
    const calls: string[] = [];
    const lines: string[] = [];
    const conn = fakeConnection();
    const chaos = startChaos(fakeServer(calls), { interval: 10, faults: ['blackhole'], log: (l) => lines.push(l), ...conn });
    await expect.poll(() => calls).toEqual(['blackhole true']);
    conn.lose();
    await expect.poll(() => calls).toEqual(['blackhole true', 'blackhole false']);
    expect(lines.at(-1)).toMatch(/^chaos: blackhole over after \d+ ms/);
    conn.open();
    await expect.poll(() => calls.length).toBe(3);
    const started = Date.now();
    await chaos.stop();
    expect(Date.now() - started).toBeLessThan(1000);
    expect(calls).toEqual(['blackhole true', 'blackhole false', 'blackhole true', 'blackhole false']);
  });

  it('refuse answers the next handshakes with 503 and drops; restart stops and listens again', async () => {
    const calls: string[] = [];
    const conn = fakeConnection();
    const chaos = startChaos(fakeServer(calls), { interval: 10, faults: ['refuse', 'restart'], log: () => {}, random: () => 0.99, ...conn });
    await expect.poll(() => calls).toEqual(['stop', 'restart']);
    conn.lose();
    conn.open();
    await chaos.stop();
    const fresh: string[] = [];
    const again = fakeConnection();
    const refuse = startChaos(fakeServer(fresh), { interval: 10, faults: ['refuse'], log: () => {}, random: () => 0.5, ...again });
    await expect.poll(() => fresh).toEqual(['refuseNext 503 2', 'dropAll']);
    await refuse.stop();
  });
});
