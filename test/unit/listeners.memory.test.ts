/**
 * addEventListener/removeEventListener against what the DOM's EventTarget does: `once`, `signal`, `handleEvent`
 * objects, de-duplication, changes made during a dispatch, and listeners that throw.
 */
import { SimulatedClock } from 'xstate';
import { describe, expect, it } from 'vitest';
import { createConnection } from '../../src/index.js';
import type { SocketMessageEvent } from '../../src/events.js';
import { createMemoryTransport } from '../../src/transports/memory.js';

const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

/** An open connection on the memory transport; `deliver` hands it one inbound message, synchronously. */
function setup() {
  const memory = createMemoryTransport();
  const conn = createConnection('ws://example.test/', { transport: memory.transport, clock: new SimulatedClock(), random: () => 0 });
  memory.last!.accept();
  expect(conn.state).toBe('open');
  return { conn, deliver: (data: string) => memory.last!.message(data) };
}

describe('listener options', () => {
  it('once: true fires once, and only that registration goes', () => {
    const { conn, deliver } = setup();
    const log: string[] = [];
    conn.addEventListener('message', (e) => log.push(`once:${String(e.data)}`), { once: true });
    conn.addEventListener('message', (e) => log.push(`always:${String(e.data)}`));
    deliver('a');
    deliver('b');
    expect(log).toEqual(['once:a', 'always:a', 'always:b']);
  });

  it('signal: aborting removes the listener; a pre-aborted signal adds nothing', () => {
    const { conn, deliver } = setup();
    const log: string[] = [];
    const controller = new AbortController();
    conn.addEventListener('message', (e) => log.push(`live:${String(e.data)}`), { signal: controller.signal });
    conn.addEventListener('message', (e) => log.push(`dead:${String(e.data)}`), { signal: AbortSignal.abort() });
    deliver('a');
    controller.abort();
    deliver('b');
    expect(log).toEqual(['live:a']);
  });

  it('a pre-aborted registration does not block a later add of the same listener', () => {
    const { conn, deliver } = setup();
    const log: string[] = [];
    const listener = (e: SocketMessageEvent) => log.push(String(e.data));
    conn.addEventListener('message', listener, { signal: AbortSignal.abort() });
    conn.addEventListener('message', listener, { once: true });
    deliver('a');
    deliver('b');
    // Had the aborted add registered it (without once), the second add would have been a duplicate: 'a', 'b'.
    expect(log).toEqual(['a']);
  });

  it('a listener aborted by an earlier listener of the same event is not called', () => {
    const { conn, deliver } = setup();
    const log: string[] = [];
    const controller = new AbortController();
    conn.addEventListener('message', () => {
      log.push('first');
      controller.abort();
    });
    conn.addEventListener('message', () => log.push('second'), { signal: controller.signal });
    deliver('a');
    expect(log).toEqual(['first']);
  });

  it('objects with handleEvent are called as methods (this is the object), with the event', () => {
    const { conn, deliver } = setup();
    const seen: Array<{ self: unknown; data: unknown; target: unknown }> = [];
    const handler = {
      handleEvent(this: unknown, e: SocketMessageEvent) {
        seen.push({ self: this, data: e.data, target: e.target });
      },
    };
    conn.addEventListener('message', handler);
    deliver('a');
    conn.removeEventListener('message', handler);
    deliver('b');
    expect(seen).toEqual([{ self: handler, data: 'a', target: conn }]);
    expect(seen[0]?.self).toBe(handler);
  });

  it('the same listener added twice is called once; removing it once removes it', () => {
    const { conn, deliver } = setup();
    const log: string[] = [];
    const listener = (e: SocketMessageEvent) => log.push(String(e.data));
    const handler = { handleEvent: listener };
    conn.addEventListener('message', listener);
    conn.addEventListener('message', listener);
    conn.addEventListener('message', listener, { once: true }); // a duplicate too: the first registration wins
    conn.addEventListener('message', handler);
    conn.addEventListener('message', handler);
    deliver('a');
    deliver('b');
    expect(log).toEqual(['a', 'a', 'b', 'b']); // once each from `listener` and `handler`
    conn.removeEventListener('message', listener);
    conn.removeEventListener('message', handler);
    deliver('c');
    expect(log).toEqual(['a', 'a', 'b', 'b']);
  });
});

describe('changes during a dispatch (as the DOM)', () => {
  it('a listener removed by an earlier listener of the same event is not called', () => {
    const { conn, deliver } = setup();
    const log: string[] = [];
    const second = () => log.push('second');
    const third = () => log.push('third');
    conn.addEventListener('message', () => {
      log.push('first');
      conn.removeEventListener('message', second);
    });
    conn.addEventListener('message', second);
    conn.addEventListener('message', third);
    deliver('a');
    deliver('b');
    expect(log).toEqual(['first', 'third', 'first', 'third']);
  });

  it('a once listener removed before its turn is neither called nor resurrected', () => {
    const { conn, deliver } = setup();
    const log: string[] = [];
    const later = () => log.push('later');
    conn.addEventListener('message', () => {
      log.push('first');
      conn.removeEventListener('message', later);
    }, { once: true });
    conn.addEventListener('message', later, { once: true });
    deliver('a');
    deliver('b');
    expect(log).toEqual(['first']);
  });

  it('listeners added during a dispatch (also a removed one re-added) wait for the next event', () => {
    const { conn, deliver } = setup();
    const log: string[] = [];
    const added = (e: SocketMessageEvent) => log.push(`added:${String(e.data)}`);
    const readded = (e: SocketMessageEvent) => log.push(`readded:${String(e.data)}`);
    conn.addEventListener(
      'message',
      () => {
        conn.addEventListener('message', added);
        conn.removeEventListener('message', readded);
        conn.addEventListener('message', readded);
      },
      { once: true },
    );
    conn.addEventListener('message', readded);
    deliver('a');
    deliver('b');
    expect(log).toEqual(['added:b', 'readded:b']);
  });

  it('removal inside the onmessage handler also applies to the listeners after it', () => {
    const { conn, deliver } = setup();
    const log: string[] = [];
    const listener = () => log.push('listener');
    conn.onmessage = () => {
      log.push('onmessage');
      conn.removeEventListener('message', listener);
    };
    conn.addEventListener('message', listener);
    deliver('a');
    expect(log).toEqual(['onmessage']);
  });

  it('lifecycle events too: a close listener removed by an earlier one is skipped', () => {
    const memory = createMemoryTransport();
    const conn = createConnection('ws://example.test/', { transport: memory.transport, clock: new SimulatedClock() });
    memory.last!.accept();
    const log: string[] = [];
    const second = () => log.push('second');
    conn.addEventListener('close', () => {
      log.push('first');
      conn.removeEventListener('close', second);
    });
    conn.addEventListener('close', second);
    conn.close(1000);
    memory.last!.completeClose();
    expect(conn.state).toBe('closed');
    expect(log).toEqual(['first']);
  });
});

describe('a listener that throws', () => {
  it('does not stop the others, and is rethrown in a microtask (reported as EventTarget does)', async () => {
    const { conn, deliver } = setup();
    const log: string[] = [];
    const bug = new Error('listener bug');
    const handlerBug = new Error('handler bug');
    conn.onmessage = () => {
      throw handlerBug;
    };
    conn.addEventListener('message', () => {
      throw bug;
    });
    conn.addEventListener('message', (e) => log.push(String(e.data)));
    const errors: string[] = [];
    conn.addEventListener('error', (e) => errors.push(e.message));
    const uncaught: unknown[] = [];
    const onUncaught = (error: unknown) => uncaught.push(error);
    process.on('uncaughtException', onUncaught);
    try {
      deliver('a');
      expect(log).toEqual(['a']); // synchronously, the others ran
      expect(uncaught).toEqual([]); // not thrown into the code that delivered the message
      await settle();
    } finally {
      process.off('uncaughtException', onUncaught);
    }
    expect(uncaught).toEqual([handlerBug, bug]);
    expect(errors).toEqual([]); // not turned into an `error` event
    expect(conn.state).toBe('open');
  });
});

describe('dispatchEvent (EventTarget, as reconnecting-websocket and partysocket offer it)', () => {
  it("hands an app's Event to the on* handler and the listeners, with the connection as target", () => {
    const { conn } = setup();
    const log: string[] = [];
    conn.onopen = (e) => log.push(`onopen:${e.target === conn}`);
    conn.addEventListener('open', (e) => log.push(`listener:${e.target === conn}`));
    expect(conn.dispatchEvent(new Event('open'))).toBe(true);
    expect(log).toEqual(['onopen:true', 'listener:true']);
  });

  it('returns false when a listener prevents a cancelable event; events of any name reach their listeners', () => {
    const { conn } = setup();
    const heard: string[] = [];
    for (const type of ['custom', 'constructor', 'toString', '__proto__']) {
      conn.addEventListener(type as 'open', () => heard.push(type));
    }
    conn.addEventListener('custom' as 'open', (e) => (e as unknown as Event).preventDefault());
    expect(conn.dispatchEvent(new Event('custom', { cancelable: true }))).toBe(false);
    expect(conn.dispatchEvent(new Event('constructor'))).toBe(true);
    conn.dispatchEvent(new Event('toString'));
    conn.dispatchEvent(new Event('__proto__'));
    expect(heard).toEqual(['custom', 'constructor', 'toString', '__proto__']);
  });

  it("an event named after a method ('ce' -> once) calls no method; a non-event is refused with ERR_INVALID_OPTION", () => {
    const { conn } = setup();
    expect(conn.dispatchEvent(new Event('ce'))).toBe(true);
    expect(() => conn.dispatchEvent(null as unknown as Event)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_OPTION' }));
    expect(() => conn.dispatchEvent({} as Event)).toThrow(/dispatchEvent/);
  });
});
