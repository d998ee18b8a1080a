/**
 * `logTransitions(conn)`: the exact lines it prints, over the memory transport and a simulated clock, with the
 * output, the time stamp and the color mode injected.
 */
import { SimulatedClock } from 'xstate';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createConnection, createManualEnvironment, logTransitions } from '../../src/index.js';
import { createMemoryTransport } from '../../src/transports/memory.js';

function setup() {
  const memory = createMemoryTransport();
  const clock = new SimulatedClock();
  const network = createManualEnvironment();
  // startClosed: the log is attached before the first transition, so it sees the first CONNECTING too.
  const conn = createConnection('ws://example.test/socket', {
    transport: memory.transport,
    clock,
    random: () => 0.5,
    environment: network.source,
    startClosed: true,
  });
  const lines: string[] = [];
  return { memory, clock, network, conn, lines, write: (line: string) => lines.push(line) };
}

/** open -> server drop -> backoff -> reopen -> close(1000, 'bye'), played on the memory transport. */
function playSession({ memory, clock, conn }: ReturnType<typeof setup>): void {
  conn.open();
  memory.last!.accept();
  memory.last!.close(1006); // dropped: no close frame
  clock.increment(200); // the first retry's delay: 0.5 * 400 ms
  memory.last!.accept();
  conn.close(1000, 'bye');
  memory.last!.completeClose();
  expect(conn.state).toBe('closed');
}

const SESSION_PLAIN = [
  '[12:00:00] [yellow] CONNECTING - connecting.opening',
  '[12:00:00] [green] OPEN - Ready to communicate',
  '[12:00:00] [yellow] DISCONNECTED - Code: 1006, Reason: none given',
  '[12:00:00] [yellow] RECONNECTING - retry 1 in 200 ms',
  '[12:00:00] [yellow] CONNECTING - connecting.opening',
  '[12:00:00] [green] OPEN - Ready to communicate',
  '[12:00:00] [red] CLOSING',
  '[12:00:00] [red] CLOSED - Code: 1000, Reason: bye (user)',
];

const tty = Object.getOwnPropertyDescriptor(process.stdout, 'isTTY');
const noColor = process.env.NO_COLOR;
afterEach(() => {
  if (tty) Object.defineProperty(process.stdout, 'isTTY', tty);
  else delete (process.stdout as { isTTY?: boolean }).isTTY;
  if (noColor === undefined) delete process.env.NO_COLOR;
  else process.env.NO_COLOR = noColor;
});
const setTty = (value: boolean) => Object.defineProperty(process.stdout, 'isTTY', { value, configurable: true, writable: true });

describe('logTransitions', () => {
  it('prints open -> drop -> reconnect -> open -> close as these exact lines in plain mode', () => {
    const session = setup();
    logTransitions(session.conn, { write: session.write, color: false, time: () => '12:00:00' });
    playSession(session);
    expect(session.lines).toEqual(SESSION_PLAIN);
    expect(session.lines.join('')).not.toContain('\x1b');
  });

  it('in color mode marks each line with an ANSI-colored dot instead of the [tone] tag', () => {
    const session = setup();
    logTransitions(session.conn, { write: session.write, color: true, time: () => '12:00:00' });
    playSession(session);
    const dot = { green: '\x1b[32m●\x1b[0m', yellow: '\x1b[33m●\x1b[0m', red: '\x1b[31m●\x1b[0m' };
    expect(session.lines).toEqual(
      SESSION_PLAIN.map((line) => line.replace(/\[(green|yellow|red)\]/, (_, tone: keyof typeof dot) => dot[tone])),
    );
  });

  it("reconnect(): the old socket's DISCONNECTED comes before the new attempt's CONNECTING (their events commit together)", async () => {
    const session = setup();
    const { memory, conn, write, lines } = session;
    logTransitions(conn, { write, color: false, time: () => '12:00:00' });
    conn.open();
    memory.last!.accept();
    conn.reconnect();
    await Promise.resolve(); // nothing after it in this commit: the held line is written by the end of the task
    expect(lines).toEqual([
      '[12:00:00] [yellow] CONNECTING - connecting.opening',
      '[12:00:00] [green] OPEN - Ready to communicate',
      '[12:00:00] [yellow] DISCONNECTED - Code: 1006, Reason: Reconnect requested',
      '[12:00:00] [yellow] CONNECTING - connecting.opening',
    ]);
  });

  it('open() while closing: CLOSED for the session that ended, then CONNECTING for the next', async () => {
    const session = setup();
    const { memory, conn, write, lines } = session;
    logTransitions(conn, { write, color: false, time: () => '12:00:00' });
    conn.open();
    memory.last!.accept();
    conn.close(1000, 'bye');
    conn.open();
    memory.peers[0]!.completeClose();
    await Promise.resolve();
    expect(lines.slice(2)).toEqual([
      '[12:00:00] [red] CLOSING',
      '[12:00:00] [red] CLOSED - Code: 1000, Reason: bye (user)',
      '[12:00:00] [yellow] CONNECTING - connecting.opening',
    ]);
  });

  it('a refused token: the ERROR of the refused attempt comes before the CONNECTING of the fresh one', async () => {
    const memory = createMemoryTransport();
    const conn = createConnection('ws://example.test/socket', {
      transport: memory.transport,
      clock: new SimulatedClock(),
      random: () => 0.5,
      startClosed: true,
      auth: { token: () => 't', isNack: (data) => data === 'no' },
    });
    const lines: string[] = [];
    logTransitions(conn, { write: (line) => lines.push(line), color: false, time: () => '12:00:00' });
    conn.open();
    await new Promise((resolve) => setImmediate(resolve)); // the token provider runs from a microtask
    memory.last!.accept();
    memory.last!.message('no');
    await Promise.resolve();
    expect(lines).toEqual([
      '[12:00:00] [yellow] CONNECTING - connecting.opening',
      '[12:00:00] [yellow] CONNECTING - connecting.authenticating',
      '[12:00:00] [red] ERROR - Authentication refused.',
      '[12:00:00] [yellow] CONNECTING - connecting.opening',
    ]);
  });

  it('prints the waiting-for-network and error lines', () => {
    const session = setup();
    const { memory, network, conn, write, lines } = session;
    logTransitions(conn, { write, color: false, time: () => '12:00:00' });
    conn.open();
    memory.last!.refuse('Unexpected server response: 503');
    network.setOnline(false);
    expect(conn.state).toBe('reconnecting.waitingForNetwork');
    expect(lines).toEqual([
      '[12:00:00] [yellow] CONNECTING - connecting.opening',
      '[12:00:00] [red] ERROR - Unexpected server response: 503',
      '[12:00:00] [yellow] RECONNECTING - retry 1 in 200 ms',
      '[12:00:00] [yellow] WAITING FOR NETWORK',
    ]);
  });

  it('defaults: the time as local HH:MM:SS, and color exactly when stdout is a TTY and NO_COLOR is unset', () => {
    setTty(false);
    const plain = setup();
    logTransitions(plain.conn, { write: plain.write });
    plain.conn.open();
    expect(plain.lines).toEqual([expect.stringMatching(/^\[\d\d:\d\d:\d\d\] \[yellow\] CONNECTING - connecting\.opening$/)]);

    setTty(true);
    process.env.NO_COLOR = '1';
    const noColor = setup();
    logTransitions(noColor.conn, { write: noColor.write, time: () => 't' });
    noColor.conn.open();
    expect(noColor.lines).toEqual(['[t] [yellow] CONNECTING - connecting.opening']);

    delete process.env.NO_COLOR;
    const colored = setup();
    logTransitions(colored.conn, { write: colored.write, time: () => 't' });
    colored.conn.open();
    expect(colored.lines).toEqual(['[t] \x1b[33m●\x1b[0m CONNECTING - connecting.opening']);
  });

  it('writes to console.log unless told otherwise, and stops when the returned function is called', () => {
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    try {
      const session = setup();
      const stop = logTransitions(session.conn, { color: false, time: () => 't' });
      session.conn.open();
      stop();
      session.memory.last!.accept();
      expect(log.mock.calls).toEqual([['[t] [yellow] CONNECTING - connecting.opening']]);
    } finally {
      log.mockRestore();
    }
  });
});
