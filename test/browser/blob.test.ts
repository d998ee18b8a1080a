/**
 * Blobs in a real headless Chromium against the real `ws` test server: `send(blob)` (queued and while open) reaches
 * the server byte for byte and in order, and binary messages arrive as Blobs with the default browser `binaryType`
 * ('blob'), then as ArrayBuffers once `conn.binaryType = 'arraybuffer'`.
 *
 * Same setup as browser.test.ts: the library bundled in memory with esbuild into an IIFE (`window.socketchart`),
 * served from a loopback HTTP server, everything on 127.0.0.1, port 0, no fixed sleeps.
 */
import { type Browser, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type * as Socketchart from '../../src/index.js';
import { type TestServer, createTestServer } from '../../src/testing/index.js';
import { launchChromium } from '../support/chromium.js';
import { type SocketchartPage, serveSocketchartPage } from '../support/socketchartPage.js';

const WAIT = { timeout: 4_000, polling: 10 } as const;

/** What the page saw of each message, in arrival order (Blob bytes are read asynchronously into their slot). */
type Seen = { kind: 'text'; text: string } | { kind: 'blob' | 'arraybuffer'; type: string; bytes: number[] } | { kind: string };

interface PageGlobals {
  socketchart: typeof Socketchart;
  conn: Socketchart.Connection<unknown>;
  seen: Array<Seen | null>;
  errors: string[];
}

const PAGE_HTML = '<!doctype html><meta charset="utf-8"><title>socketchart blobs</title><script src="/socketchart.js"></script>';

let browser: Browser;
let http: SocketchartPage;
let pageUrl: string;
let ws: TestServer;
let page: Page;
let pageErrors: string[] = [];

beforeAll(async () => {
  const [served, server, launched] = await Promise.all([
    serveSocketchartPage(PAGE_HTML),
    // Records what arrives (binary as a Buffer) and answers nothing: the server's messages come from the tests.
    createTestServer({ onMessage: () => {} }),
    launchChromium(),
  ]);
  ws = server;
  browser = launched;
  http = served;
  pageUrl = served.url;
  // One page for the file (a page load costs about a second here); each test makes its own connection.
  page = await browser.newPage();
  page.on('pageerror', (error) => pageErrors.push(String(error)));
  await page.goto(pageUrl);
  await page.waitForFunction(() => typeof (window as unknown as PageGlobals).socketchart === 'object', undefined, WAIT);
});

afterAll(async () => {
  await browser?.close();
  await ws?.close();
  await http?.close();
});

beforeEach(() => {
  pageErrors = [];
});

afterEach(async () => {
  await page.evaluate(() => (window as unknown as PageGlobals).conn?.close());
  await expect.poll(() => ws.sockets.size, { timeout: 2_000, interval: 10 }).toBe(0);
  expect(pageErrors).toEqual([]);
});

/**
 * Creates `window.conn`, records every message it delivers and, in the same task (so before it can open), sends
 * `queue`, each entry a string or the parts of a Blob. Returns the state it was in when they were sent.
 */
async function connect(queue: Array<string | number[]> = []): Promise<string> {
  return page.evaluate(({ url, queue }) => {
    const w = window as unknown as PageGlobals;
    const conn = w.socketchart.createConnection(url);
    w.conn = conn;
    w.seen = [];
    w.errors = [];
    conn.addEventListener('error', (e) => w.errors.push(e.message));
    conn.addEventListener('drop', (e) => w.errors.push(`drop ${e.reason}`));
    conn.addEventListener('message', (e) => {
      const data = e.data;
      const slot = w.seen.length;
      w.seen.push(null);
      if (typeof data === 'string') w.seen[slot] = { kind: 'text', text: data };
      else if (data instanceof ArrayBuffer) w.seen[slot] = { kind: 'arraybuffer', type: '', bytes: [...new Uint8Array(data)] };
      else if (data instanceof Blob) {
        void data.arrayBuffer().then((buffer) => {
          w.seen[slot] = { kind: 'blob', type: data.type, bytes: [...new Uint8Array(buffer)] };
        });
      } else w.seen[slot] = { kind: Object.prototype.toString.call(data) };
    });
    const state = conn.state;
    // A Blob of parts of every kind: the bytes given, UTF-8 text, an ArrayBuffer, a nested Blob.
    for (const item of queue) {
      conn.send(typeof item === 'string' ? item : new Blob([new Uint8Array(item), 'héllo €', new Uint8Array([0, 255]).buffer, new Blob(['!'])]));
    }
    return state;
  }, { url: ws.url('/'), queue });
}

const allBytes = Array.from({ length: 256 }, (_, i) => i);

describe('Blobs in headless Chromium', () => {
  it('send(blob) reaches the server intact and in order, queued before open and sent while open', async () => {
    const queuedState = await connect(['first', allBytes]);
    expect(queuedState).toBe('connecting.opening'); // so the first Blob went through the queue
    await page.evaluate(() => (window as unknown as PageGlobals).conn.opened({ timeout: 4_000 }));
    await page.evaluate(() => {
      const { conn } = window as unknown as PageGlobals;
      conn.send(new Blob([new Uint8Array([1, 2, 3])], { type: 'application/octet-stream' }));
      conn.send('last');
    });
    await expect.poll(() => ws.received.length, { timeout: 4_000, interval: 10 }).toBe(4);

    expect(ws.received).toEqual([
      'first',
      Buffer.concat([Buffer.from(allBytes), Buffer.from('héllo €', 'utf8'), Buffer.from([0, 255]), Buffer.from('!')]),
      Buffer.from([1, 2, 3]),
      'last',
    ]);
    expect(await page.evaluate(() => (window as unknown as PageGlobals).errors)).toEqual([]);
  });

  it("binary messages arrive as Blobs by default, and as ArrayBuffers after binaryType = 'arraybuffer'", async () => {
    await connect();
    await page.evaluate(() => (window as unknown as PageGlobals).conn.opened({ timeout: 4_000 }));
    const server = [...ws.sockets][0]!;
    const initial = await page.evaluate(() => (window as unknown as PageGlobals).conn.binaryType);
    expect(initial).toBe('blob');

    server.send(Buffer.from(allBytes));
    server.send('text stays text');
    await page.waitForFunction(() => (window as unknown as PageGlobals).seen.filter(Boolean).length === 2, undefined, WAIT);

    const switched = await page.evaluate(() => {
      const { conn } = window as unknown as PageGlobals;
      conn.binaryType = 'arraybuffer';
      return conn.binaryType;
    });
    expect(switched).toBe('arraybuffer');
    server.send(Buffer.from([7, 0, 255]));
    await page.waitForFunction(() => (window as unknown as PageGlobals).seen.filter(Boolean).length === 3, undefined, WAIT);

    expect(await page.evaluate(() => (window as unknown as PageGlobals).seen)).toEqual([
      { kind: 'blob', type: '', bytes: allBytes },
      { kind: 'text', text: 'text stays text' },
      { kind: 'arraybuffer', type: '', bytes: [7, 0, 255] },
    ]);
    expect(await page.evaluate(() => (window as unknown as PageGlobals).errors)).toEqual([]);
  });
});
