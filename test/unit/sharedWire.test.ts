/**
 * What a follower tab hears of the leader's events: each crosses the channel as structured-clone data
 * (watchConnection -> WireEvent -> TabEvents.replay). A posted Error keeps its message but not its `code`, and a
 * problem holding a function cannot be posted at all: the wire form must carry both.
 */
import { describe, expect, it } from 'vitest';
import { createConnection, isSocketchartError, jsonCodec } from '../../src/index.js';
import { SocketchartError } from '../../src/errors.js';
import type { InvalidMessageEvent } from '../../src/events.js';
import { watchConnection } from '../../src/shared/mirror.js';
import type { WireEvent } from '../../src/shared/protocol.js';
import { TabEvents } from '../../src/shared/view.js';
import { schema } from '../../src/plugins/schema.js';
import type { StandardSchemaV1 } from '../../src/messages/schema.js';
import { createMemoryTransport } from '../../src/transports/memory.js';

describe('invalid-message across the channel', () => {
  it("a follower's event keeps the problem's code; a problem that cannot be cloned still crosses", () => {
    const memory = createMemoryTransport();
    const leader = createConnection('ws://example.test/', { transport: memory.transport });
    const follower = new TabEvents({}, 'type');
    const heard: InvalidMessageEvent[] = [];
    follower.listeners.add('invalid-message', (e: InvalidMessageEvent) => heard.push(e));
    watchConnection(leader, {
      statechange: () => {},
      // BroadcastChannel posts a structured clone: what it cannot clone throws in postMessage.
      event: (wire: WireEvent) => follower.replay(structuredClone(wire), 0),
      message: () => {},
      drop: () => {},
    });
    const host = leader as unknown as { dispatchEvent: (e: unknown) => boolean };
    const coded = new SocketchartError('ERR_INVALID_DATA', 'A malformed ack frame from the server was skipped.');
    host.dispatchEvent(Object.assign(new Event('invalid-message'), { data: '{"type":"ack"}', problem: coded }));
    host.dispatchEvent(Object.assign(new Event('invalid-message'), { data: 'x', problem: { issues: [], check: () => true } }));
    expect(heard).toHaveLength(2);
    expect(isSocketchartError(heard[0]!.problem, 'ERR_INVALID_DATA')).toBe(true);
    expect((heard[0]!.problem as Error).message).toBe('A malformed ack frame from the server was skipped.');
    expect(heard[1]!.data).toBe('x');
    leader.close();
  });

  it("a schema's issues (what a rejected message's problem is) reach the follower as they are", () => {
    const memory = createMemoryTransport({ canPing: false });
    const strict: StandardSchemaV1 = {
      '~standard': {
        version: 1,
        vendor: 'test',
        validate: (v: unknown) => (typeof (v as { text?: unknown })?.text === 'string' ? { value: v } : { issues: [{ message: 'Expected string', path: ['text'] }] }),
      },
    };
    const leader = createConnection('ws://example.test/', { transport: memory.transport, codec: jsonCodec(), schema: schema(strict), heartbeat: false });
    const follower = new TabEvents({}, 'type');
    const atLeader: unknown[] = [];
    const atFollower: unknown[] = [];
    leader.addEventListener('invalid-message', (e) => atLeader.push(e.problem));
    follower.listeners.add('invalid-message', (e: InvalidMessageEvent) => atFollower.push(e.problem));
    watchConnection(leader, { statechange: () => {}, event: (wire: WireEvent) => follower.replay(structuredClone(wire), 0), message: () => {}, drop: () => {} });
    memory.last!.accept();
    memory.last!.message('{"text":5}');
    expect(atLeader).toHaveLength(1);
    expect(atFollower).toEqual(atLeader);
    leader.close();
  });

  it('issues holding a function (valibot check() keeps its predicate) cross as their data, not as [object Object]', async () => {
    const { toWireProblem, fromWireProblem } = await import('../../src/shared/protocol.js');
    const issues = [{ message: 'n must be positive', path: ['n'], requirement: (n: number) => n > 0 }];
    const back = fromWireProblem(structuredClone(toWireProblem(issues)));
    expect(back).toEqual([{ message: 'n must be positive', path: ['n'] }]);
  });
});
