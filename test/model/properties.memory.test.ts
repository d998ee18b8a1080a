/**
 * Property tests: random sequences of user calls, server faults, network changes and clock ticks, over the memory
 * transport and a SimulatedClock, under every path variant's policy (plus a small queue), keep the invariants of
 * the facade. fast-check shrinks a failure to the shortest sequence that breaks one.
 */
import fc from 'fast-check';
import { SimulatedClock } from 'xstate';
import { describe, expect, it } from 'vitest';
import { createConnection } from '../../src/index.js';
import { PATH_VARIANTS, type PathVariantName } from '../../src/testing/paths.js';
import { type MemoryPeer, createMemoryTransport } from '../../src/transports/memory.js';
import { KNOWN_BUGS } from './support/expect.js';
import { InvariantMonitor } from './support/invariants.js';
import { countedEnvironment, pendingTimers, settle } from './support/memoryReplay.js';

type Command =
  | { kind: 'send' | 'close' | 'reconnect' | 'open' }
  | { kind: 'accept' | 'refuse' | 'error' | 'drop' | 'serverMessage' | 'pong' | 'completeClose' | 'authOk' | 'authFail' }
  | { kind: 'serverClose'; code: number }
  | { kind: 'tick'; ms: number }
  | { kind: 'offline' | 'online' | 'visible' };

const weighted = (weight: number, c: Command) => ({ weight, arbitrary: fc.constant(c) });

// Weighted so that runs get open and stay open long enough to exchange messages, between faults.
const command: fc.Arbitrary<Command> = fc.oneof(
  weighted(6, { kind: 'send' }),
  weighted(6, { kind: 'accept' }),
  weighted(3, { kind: 'serverMessage' }),
  weighted(3, { kind: 'authOk' }),
  weighted(2, { kind: 'reconnect' }),
  weighted(2, { kind: 'close' }),
  weighted(2, { kind: 'open' }),
  weighted(2, { kind: 'completeClose' }),
  weighted(2, { kind: 'pong' }),
  weighted(1, { kind: 'refuse' }),
  weighted(1, { kind: 'error' }),
  weighted(1, { kind: 'drop' }),
  weighted(1, { kind: 'authFail' }),
  weighted(1, { kind: 'offline' }),
  weighted(1, { kind: 'online' }),
  weighted(1, { kind: 'visible' }),
  { weight: 2, arbitrary: fc.constantFrom(1000, 1001, 1002, 1008, 1011, 1013, 4000, 4001).map((code) => ({ kind: 'serverClose' as const, code })) },
  { weight: 4, arbitrary: fc.constantFrom(1, 250, 1_000, 2_000, 4_500, 10_000).map((ms) => ({ kind: 'tick' as const, ms })) },
);

const config = fc.record({
  variant: fc.constantFrom(...(Object.keys(PATH_VARIANTS) as PathVariantName[])),
  startClosed: fc.boolean(),
  queue: fc.constantFrom(undefined, { maxMessages: 2, overflow: 'drop-oldest' as const }, { maxMessages: 2, overflow: 'drop-newest' as const }),
});

type Config = typeof config extends fc.Arbitrary<infer T> ? T : never;

async function run(cfg: Config, commands: Command[]): Promise<{ bugs: Set<string> }> {
  const memory = createMemoryTransport();
  const transport = memory.transport;
  const clock = new SimulatedClock();
  const env = countedEnvironment();
  const conn = createConnection('ws://property.test/', {
    ...PATH_VARIANTS[cfg.variant].options,
    startClosed: cfg.startClosed,
    ...(cfg.queue ? { queue: cfg.queue } : {}),
    transport,
    clock,
    environment: env.source,
  });
  const monitor = new InvariantMonitor(conn);
  const sent: string[] = [];
  let serverIds = 0;
  const peer = (): MemoryPeer | undefined => memory.last;
  const failures = (): string[] => {
    const out = [...monitor.violations];
    if (conn.state === 'closed') {
      if (pendingTimers(clock) > 0) out.push(`${pendingTimers(clock)} timers pending in closed`);
      if (env.subscribers > 0) out.push('environment still watched in closed');
    }
    return out;
  };

  for (const cmd of commands) {
    switch (cmd.kind) {
      case 'send': {
        const id = `c${sent.length}`;
        sent.push(id);
        conn.send(id);
        break;
      }
      case 'close':
        conn.close();
        break;
      case 'reconnect':
        conn.reconnect();
        break;
      case 'open':
        conn.open();
        break;
      case 'accept':
        peer()?.accept();
        break;
      case 'refuse':
        peer()?.refuse();
        break;
      case 'error': {
        peer()?.error('socket error');
        break;
      }
      case 'drop':
        peer()?.close(1006);
        break;
      case 'serverClose':
        peer()?.close(cmd.code, 'server');
        break;
      case 'serverMessage':
        peer()?.message(`s${serverIds++}`);
        break;
      case 'pong':
        peer()?.pong();
        break;
      case 'completeClose':
        peer()?.completeClose();
        break;
      case 'authOk':
        peer()?.message(JSON.stringify({ type: 'auth_ok', n: serverIds++ })); // unique: without auth it is a message
        break;
      case 'authFail':
        peer()?.message(JSON.stringify({ type: 'auth_error', n: serverIds++ }));
        break;
      case 'tick':
        clock.increment(cmd.ms);
        break;
      case 'offline':
        env.setOnline(false);
        break;
      case 'online':
        env.setOnline(true);
        break;
      case 'visible':
        env.becameVisible();
        break;
    }
    await settle();
    monitor.checkReadyState(`after ${cmd.kind}`);
    expect(failures(), `after ${JSON.stringify(cmd)}`).toEqual([]);
  }

  // close() ends any session; then nothing may be left running, and every message is accounted for exactly once.
  conn.close();
  await settle();
  if (conn.state === 'closing') peer()?.completeClose();
  if (conn.state === 'idle') conn.close();
  expect(conn.state).toBe('closed');
  monitor.checkSessionCloses();
  expect(failures()).toEqual([]);
  expect(pendingTimers(clock), 'timers left after close').toBe(0);
  expect(env.subscribers, 'environment listeners left after close').toBe(0);
  for (const p of memory.peers) expect(p.state === 'closed' || p.terminated, 'socket left open').toBe(true);
  const written = memory.peers.flatMap((p) => p.sent.filter((d): d is string => typeof d === 'string' && /^c\d+$/.test(d)));
  for (const id of sent) {
    const writes = written.filter((d) => d === id).length;
    const dropped = monitor.dropped.get(id) ?? 0;
    const unconfirmed = monitor.unconfirmed.get(id) ?? 0;
    const account = `message ${id}: written ${writes}, dropped ${dropped}, unconfirmed ${unconfirmed}`;
    expect(writes + dropped, account).toBe(1);
    // Only a written message can be unconfirmed (and only once).
    expect(unconfirmed, account).toBeLessThanOrEqual(writes);
  }
  // Order is kept across sockets: what reaches the servers is a subsequence of what was sent.
  const order = written.map((id) => Number(id.slice(1)));
  expect(order.every((n, i) => i === 0 || n > order[i - 1]!), `written out of order: ${written.join(',')}`).toBe(true);
  return { bugs: monitor.bugs };
}

describe('invariants under random user calls and server faults (memory transport)', () => {
  const bugsSeen = new Set<string>();

  it('hold for every variant', async () => {
    await fc.assert(
      fc.asyncProperty(config, fc.array(command, { minLength: 5, maxLength: 60, size: 'max' }), async (cfg, commands) => {
        const { bugs } = await run(cfg, commands);
        for (const bug of bugs) bugsSeen.add(bug);
      }),
      { numRuns: 300 },
    );
  });

  it('a close() from every state leaves nothing behind, even right after start', async () => {
    await fc.assert(
      fc.asyncProperty(config, async (cfg) => {
        await run(cfg, []);
      }),
      { numRuns: 20 },
    );
  });

  it('met only known chart bugs', () => {
    for (const bug of bugsSeen) expect(Object.keys(KNOWN_BUGS)).toContain(bug);
  });
});
