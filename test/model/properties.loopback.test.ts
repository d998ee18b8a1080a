/**
 * A smaller property run on real sockets: random user calls and faults of a real `ws` server on loopback (drops,
 * close codes, refused handshakes, blackholes, malformed frames) keep the facade's invariants, and after close()
 * no socket, timer or listener is left. Over a network a message written just before a loss can be lost on the
 * wire: each message must reach the server or be dropped (never both), or else be reported 'unconfirmed' (written,
 * then the socket died before the server confirmed it): never lost without a report.
 */
import fc from 'fast-check';
import { SimulatedClock } from 'xstate';
import { describe, expect, it } from 'vitest';
import { createConnection } from '../../src/node.js';
import { createTestServer } from '../../src/testing/index.js';
import { KNOWN_BUGS } from './support/expect.js';
import { InvariantMonitor } from './support/invariants.js';
import { countedEnvironment, pendingTimers } from './support/memoryReplay.js';

type Command =
  | { kind: 'send' | 'close' | 'reconnect' | 'open' | 'drop' | 'refuse' | 'malformed' | 'serverMessage' | 'offline' | 'online' }
  | { kind: 'serverClose'; code: number }
  | { kind: 'blackhole'; on: boolean }
  | { kind: 'tick'; ms: number };

const weighted = (weight: number, c: Command) => ({ weight, arbitrary: fc.constant(c) });

const command: fc.Arbitrary<Command> = fc.oneof(
  weighted(5, { kind: 'send' }),
  weighted(2, { kind: 'serverMessage' }),
  weighted(1, { kind: 'close' }),
  weighted(2, { kind: 'reconnect' }),
  weighted(1, { kind: 'open' }),
  weighted(1, { kind: 'drop' }),
  weighted(1, { kind: 'refuse' }),
  weighted(1, { kind: 'malformed' }),
  weighted(1, { kind: 'offline' }),
  weighted(1, { kind: 'online' }),
  { weight: 1, arbitrary: fc.boolean().map((on) => ({ kind: 'blackhole' as const, on })) },
  { weight: 1, arbitrary: fc.constantFrom(1000, 1001, 1002, 1011, 1013, 4000).map((code) => ({ kind: 'serverClose' as const, code })) },
  { weight: 2, arbitrary: fc.constantFrom(1_000, 2_000, 5_000).map((ms) => ({ kind: 'tick' as const, ms })) },
);

const network = () => new Promise<void>((resolve) => setTimeout(resolve, 3));

async function until(condition: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) return false;
    await new Promise<void>((resolve) => setTimeout(resolve, 1));
  }
  return true;
}

const tcpHandles = () => process.getActiveResourcesInfo().filter((r) => r.startsWith('TCP')).length;

describe('invariants under random user calls and real server faults (loopback)', () => {
  const bugsSeen = new Set<string>();

  it('hold, and close() leaves no socket, timer or listener', async () => {
    const baseline = tcpHandles();
    await fc.assert(
      fc.asyncProperty(fc.array(command, { minLength: 3, maxLength: 14, size: 'max' }), async (commands) => {
        const server = await createTestServer();
        const clock = new SimulatedClock();
        const env = countedEnvironment();
        const conn = createConnection(server.url(), {
          clock,
          environment: env.source,
          random: () => 0.5,
          retryWait: () => Promise.resolve(),
          heartbeat: { interval: 2_000, timeout: 1_000 },
          backoff: { maxAttempts: 4 },
        });
        const monitor = new InvariantMonitor(conn);
        const sent: string[] = [];
        let serverIds = 0;
        try {
          await network();
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
              case 'drop':
                server.dropAll();
                break;
              case 'refuse':
                server.refuseNext(503);
                break;
              case 'malformed':
                server.sendMalformedFrame();
                break;
              case 'serverMessage':
                for (const socket of server.sockets) socket.send(`s${serverIds++}`);
                break;
              case 'serverClose':
                server.closeAll(cmd.code, 'server');
                break;
              case 'blackhole':
                server.blackhole(cmd.on);
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
            }
            await network();
            monitor.checkReadyState(`after ${cmd.kind}`);
          }
        } finally {
          conn.close();
          server.blackhole(false);
          // The server answers the close frame; if it was swallowed, closeTimeout ends the handshake.
          if (!(await until(() => conn.state === 'closed', 200))) clock.increment(5_000);
        }
        expect(conn.state).toBe('closed');
        monitor.checkSessionCloses();
        expect(monitor.violations).toEqual([]);
        for (const bug of monitor.bugs) bugsSeen.add(bug);
        expect(pendingTimers(clock), 'timers left after close').toBe(0);
        expect(env.subscribers, 'environment listeners left after close').toBe(0);
        // The server's sockets see the client go: nothing of it is left connected.
        expect(await until(() => server.sockets.size === 0, 1_000), 'a client socket left open after close').toBe(true);
        const received = server.received.map(String);
        for (const id of sent) {
          const times = received.filter((r) => r === id).length;
          const dropped = monitor.dropped.get(id) ?? 0;
          const unconfirmed = monitor.unconfirmed.get(id) ?? 0;
          const account = `message ${id}: received ${times}, dropped ${dropped}, unconfirmed ${unconfirmed}`;
          // Never both received and dropped; never lost without a report (received, dropped, or unconfirmed).
          expect(times + dropped, account).toBeLessThanOrEqual(1);
          expect(times + dropped + unconfirmed, account).toBeGreaterThanOrEqual(1);
        }
        await server.close();
      }),
      { numRuns: 12 },
    );
    // No TCP handle outlives the connections and servers: the process could exit.
    expect(await until(() => tcpHandles() <= baseline, 1_000), `TCP handles: ${tcpHandles()} now, ${baseline} before`).toBe(true);
    for (const bug of bugsSeen) expect(Object.keys(KNOWN_BUGS)).toContain(bug);
  });
});
