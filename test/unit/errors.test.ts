import { describe, expect, it } from 'vitest';
import { createConnection as createBrowserConnection, createBrowserTransport, isSocketchartError } from '../../src/index.js';
import { createMemoryTransport } from '../../src/transports/memory.js';

const memory = () => createMemoryTransport().transport;
const make = (url: unknown, options: Record<string, unknown> = {}) =>
  createBrowserConnection(url as string, { transport: memory(), ...options });

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    if (isSocketchartError(error)) return error.code;
    throw error;
  }
  return undefined;
}

describe('bad input gets a typed error with a stable code', () => {
  it.each([
    ['not a url', 'ERR_INVALID_URL'],
    ['ftp://example.com', 'ERR_INVALID_URL'],
    ['ws://example.com/#frag', 'ERR_INVALID_URL'],
    [42, 'ERR_INVALID_URL'],
    [null, 'ERR_INVALID_URL'],
  ])('url %j -> %s at construction', (url, code) => {
    expect(codeOf(() => make(url))).toBe(code);
  });

  it('maps http(s) onto ws(s), as WHATWG does', () => {
    expect(make('https://example.com/x').url).toBe('wss://example.com/x');
    expect(make(new URL('ws://example.com')).url).toBe('ws://example.com/');
  });

  it.each([
    [{ protocols: 'bad protocol' }],
    [{ protocols: ['a', 'A'] }],
    [{ protocols: [1] }],
    [{ connectTimeout: -1 }],
    [{ connectTimeout: NaN }],
    [{ closeTimeout: Infinity }],
    [{ backoff: { factor: 0.5 } }],
    [{ backoff: { maxRetries: 1.5 } }],
    [{ backoff: { initialDelay: '100' } }],
    [{ backoff: 5 }],
    [{ queue: { overflow: 'drop-everything' } }],
    [{ queue: { maxBytes: -5 } }],
    [{ retryWait: 100 }],
    [{ shouldReconnect: true }],
    [{ startClosed: 'yes' }],
    [{ binaryType: 'text' }],
  ])('option %j -> ERR_INVALID_OPTION naming the option', (options) => {
    let error: unknown;
    try {
      make('ws://example.com', options);
    } catch (e) {
      error = e;
    }
    expect(isSocketchartError(error, 'ERR_INVALID_OPTION')).toBe(true);
    const name = Object.keys(options)[0]!;
    expect((error as Error).message).toContain(name);
  });

  it('refuses handshake headers on the browser transport, saying what to do instead', () => {
    let error: unknown;
    try {
      createBrowserConnection('ws://example.com', { transport: createBrowserTransport(), headers: { a: 'b' } });
    } catch (e) {
      error = e;
    }
    expect(isSocketchartError(error, 'ERR_INVALID_OPTION')).toBe(true);
    expect((error as Error).message).toMatch(/URL or use cookies/);
  });

  it('points at socketchart/node when there is no global WebSocket', () => {
    if (typeof globalThis.WebSocket === 'function') return; // Node >= 22 has one
    let error: unknown;
    try {
      createBrowserConnection('ws://example.com');
    } catch (e) {
      error = e;
    }
    expect(isSocketchartError(error, 'ERR_NO_TRANSPORT')).toBe(true);
    expect((error as Error).message).toContain('socketchart/node');
  });

  it.each([999, 1001, 1005, 2000, 5000, 1000.5])('close(%d) -> ERR_INVALID_CLOSE_CODE', (code) => {
    const conn = make('ws://example.com');
    expect(codeOf(() => conn.close(code))).toBe('ERR_INVALID_CLOSE_CODE');
    expect(conn.state).toBe('connecting.opening');
  });

  it('close() with a reason over 123 UTF-8 bytes -> ERR_REASON_TOO_LONG', () => {
    const conn = make('ws://example.com');
    expect(codeOf(() => conn.close(1000, 'é'.repeat(62)))).toBe('ERR_REASON_TOO_LONG');
    expect(codeOf(() => conn.close(1000, 'x'.repeat(123)))).toBeUndefined();
  });

  it.each([[{ a: 1 }], [42], [null], [undefined], [Symbol('x')]])('send(%s) -> ERR_INVALID_DATA', (data) => {
    const conn = make('ws://example.com');
    expect(codeOf(() => conn.send(data as never))).toBe('ERR_INVALID_DATA');
  });

  it('send() with a full queue under overflow reject -> ERR_QUEUE_FULL', () => {
    const conn = make('ws://example.com', { queue: { maxMessages: 1, overflow: 'reject' } });
    conn.send('a');
    expect(codeOf(() => conn.send('b'))).toBe('ERR_QUEUE_FULL');
  });

  it('binaryType setter rejects types the transport cannot produce', () => {
    const conn = createBrowserConnection('ws://example.com', { transport: createMemoryTransport({ binaryTypes: ['blob'] }).transport, binaryType: 'blob' });
    expect(codeOf(() => (conn.binaryType = 'nodebuffer'))).toBe('ERR_INVALID_OPTION');
  });

  it('opened() with a bad timeout rejects with ERR_INVALID_OPTION', async () => {
    const conn = make('ws://example.com');
    await expect(conn.opened({ timeout: -1 })).rejects.toMatchObject({ code: 'ERR_INVALID_OPTION' });
  });
});
