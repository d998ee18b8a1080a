/**
 * The browser entry (`src/index.ts`) in a real headless Chromium, against the real `ws` test server.
 *
 * The library is bundled in memory with esbuild into an IIFE (`window.socketchart`), served with a tiny page from
 * a loopback HTTP server; the page connects to `createTestServer()`. Everything listens on 127.0.0.1, port 0.
 * No fixed sleeps: the page records what it sees, and the tests wait for it with `waitForFunction`.
 */
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type Browser, type BrowserContext, type Page } from 'playwright-core';
import { launchChromium } from '../support/chromium.js';
import { type SocketchartPage, serveSocketchartPage } from '../support/socketchartPage.js';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type * as Socketchart from '../../src/index.js';
import { type TestServer, createTestServer } from '../../src/testing/index.js';

const SHOTS = fileURLToPath(new URL('../../test-output/browser/', import.meta.url));
/** Short waits: everything here is loopback, and reconnects use a 50 ms backoff. */
const WAIT = { timeout: 4_000, polling: 10 } as const;

/** What the page records, one connection per page. */
interface Recording {
  states: string[];
  readyStates: number[];
  messages: Array<{ kind: 'text'; text: string } | { kind: 'arraybuffer'; bytes: number[] } | { kind: string }>;
  events: Array<Record<string, unknown>>;
}

/** The page's globals, as the tests use them (cast inside `page.evaluate`, which runs in the page). */
interface PageGlobals {
  socketchart: typeof Socketchart;
  conn: Socketchart.Connection<unknown>;
  rec: Recording;
}

const PAGE_HTML = `<!doctype html>
<html><head><meta charset="utf-8"><title>socketchart browser test</title>
<style>body{font:14px monospace;margin:16px} #state{font-size:20px;font-weight:bold}</style>
</head><body>
<h1>socketchart in Chromium</h1>
<div>state: <span id="state">(none)</span> readyState: <span id="ready">-</span></div>
<pre id="log"></pre>
<script src="/socketchart.js"></script>
</body></html>`;

let browser: Browser;
let context: BrowserContext;
let http: SocketchartPage;
let pageUrl: string;
let ws: TestServer;
/** Close frames the server received, per test. */
let serverCloses: Array<{ code: number; reason: string }> = [];
let page: Page;
let pageErrors: string[] = [];

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  const [served, server, launched] = await Promise.all([
    serveSocketchartPage(PAGE_HTML),
    createTestServer({
      onConnection: (socket) =>
        socket.on('close', (code, reason) => serverCloses.push({ code, reason: reason.toString() })),
    }),
    launchChromium(),
  ]);
  ws = server;
  browser = launched;
  context = await browser.newContext({ viewport: { width: 800, height: 500 } });

  http = served;
  pageUrl = served.url;
});

afterAll(async () => {
  await context?.close().catch(() => {});
  await browser?.close();
  await ws?.close();
  await http?.close();
});

beforeEach(async () => {
  serverCloses = [];
  pageErrors = [];
  page = await context.newPage();
  page.on('pageerror', (error) => pageErrors.push(String(error)));
  await page.goto(pageUrl);
  await page.waitForFunction(() => typeof (window as unknown as PageGlobals).socketchart === 'object', undefined, WAIT);
});

afterEach(async () => {
  await page.close();
  // The server hears the page's sockets go away (1001) a little later: let that happen before the next test.
  await expect.poll(() => ws.sockets.size, { timeout: 2_000, interval: 10 }).toBe(0);
  // A listener that throws is rethrown in a microtask: it shows up here.
  expect(pageErrors).toEqual([]);
});

/** Creates `window.conn` in the page and starts recording its states, messages and events. */
async function connect(options: Socketchart.ConnectionOptions = {}): Promise<void> {
  await page.evaluate(
    ({ url, options }) => {
      const w = window as unknown as PageGlobals;
      const conn = w.socketchart.createConnection(url, { backoff: { initialDelay: 50, maxDelay: 100 }, ...options });
      const rec: Recording = { states: [conn.state], readyStates: [conn.readyState], messages: [], events: [] };
      w.conn = conn;
      w.rec = rec;
      const show = () => {
        (document.getElementById('state') as HTMLElement).textContent = conn.state;
        (document.getElementById('ready') as HTMLElement).textContent = String(conn.readyState);
      };
      const log = (line: string) => ((document.getElementById('log') as HTMLElement).textContent += `${line}\n`);
      show();
      conn.addEventListener('statechange', (e) => {
        rec.states.push(e.to);
        rec.readyStates.push(conn.readyState);
        show();
        log(`statechange ${e.from} -> ${e.to}`);
      });
      conn.addEventListener('message', (e) => {
        const data = e.data;
        if (typeof data === 'string') rec.messages.push({ kind: 'text', text: data });
        else if (data instanceof ArrayBuffer) rec.messages.push({ kind: 'arraybuffer', bytes: [...new Uint8Array(data)] });
        else rec.messages.push({ kind: Object.prototype.toString.call(data) });
        log(`message ${typeof data === 'string' ? data : Object.prototype.toString.call(data)}`);
      });
      conn.addEventListener('open', () => rec.events.push({ type: 'open', state: conn.state, readyState: conn.readyState }));
      conn.addEventListener('reconnecting', (e) =>
        rec.events.push({ type: 'reconnecting', attempt: e.attempt, state: conn.state, readyState: conn.readyState }),
      );
      conn.addEventListener('close', (e) => {
        rec.events.push({
          type: 'close',
          code: e.code,
          reason: e.reason,
          wasClean: e.wasClean,
          closedBy: e.closedBy?.kind ?? null,
          state: conn.state,
          readyState: conn.readyState,
        });
        log(`close ${e.code} ${e.reason}`);
      });
      conn.addEventListener('drop', (e) => rec.events.push({ type: 'drop', reason: e.reason, data: String(e.data) }));
      conn.addEventListener('error', (e) => rec.events.push({ type: 'error', message: e.message }));
    },
    { url: ws.url('/'), options },
  );
}

const recording = () => page.evaluate(() => (window as unknown as PageGlobals).rec);
const waitForState = (state: string) =>
  page.waitForFunction((s) => (window as unknown as PageGlobals).conn.state === s, state, WAIT);
const waitForMessages = (count: number) =>
  page.waitForFunction((n) => (window as unknown as PageGlobals).rec.messages.length >= n, count, WAIT);

describe('socketchart in headless Chromium', () => {
  it('opens, echoes text, and shows readyState and state along the way', async () => {
    await connect();
    const initial = await page.evaluate(() => {
      const { conn } = window as unknown as PageGlobals;
      return { state: conn.state, readyState: conn.readyState, CONNECTING: conn.CONNECTING, OPEN: conn.OPEN };
    });
    // Either still opening, or (on a fast loopback) already open by the time we look.
    expect(['connecting.opening', 'open']).toContain(initial.state);
    expect(initial).toMatchObject({ CONNECTING: 0, OPEN: 1 });

    await page.evaluate(() => (window as unknown as PageGlobals).conn.opened({ timeout: 4_000 }));
    const opened = await page.evaluate(() => {
      const { conn } = window as unknown as PageGlobals;
      return { state: conn.state, readyState: conn.readyState, matches: conn.matches('open'), url: conn.url };
    });
    expect(opened).toEqual({ state: 'open', readyState: 1, matches: true, url: ws.url('/') });

    await page.evaluate(() => (window as unknown as PageGlobals).conn.send('hello from chromium'));
    await waitForMessages(1);
    const rec = await recording();
    expect(rec.messages).toEqual([{ kind: 'text', text: 'hello from chromium' }]);
    expect(rec.states).toEqual(['connecting.opening', 'open']);
    expect(rec.readyStates).toEqual([0, 1]);
    expect(rec.events).toEqual([{ type: 'open', state: 'open', readyState: 1 }]);
    expect(ws.received).toContain('hello from chromium');
    await page.screenshot({ path: `${SHOTS}open-echo.png` });
  });

  it('reconnects after the server drops it, and delivers what was queued during the outage in order', async () => {
    await connect();
    await waitForState('open');
    const acceptedBefore = ws.accepted;
    await page.evaluate(() => {
      const { conn, rec } = window as unknown as PageGlobals;
      // Queue while the chart is reconnecting (synchronously in its event, so no race with the 50 ms backoff).
      conn.addEventListener(
        'reconnecting',
        () => {
          conn.send('queued-1');
          conn.send('queued-2');
          rec.events.push({ type: 'queued', state: conn.state, readyState: conn.readyState, buffered: conn.bufferedAmount });
        },
        { once: true },
      );
      // Sent by an open listener after the reopen: must come after the queued ones.
      conn.addEventListener('open', () => {
        if (rec.events.some((e) => e.type === 'reconnecting')) conn.send('after-reopen');
      });
      conn.send('before-drop');
    });
    await waitForMessages(1);

    ws.dropAll();
    await page.waitForFunction(
      () => (window as unknown as PageGlobals).rec.events.some((e) => e.type === 'reconnecting'),
      undefined,
      WAIT,
    );
    await waitForState('open');
    await waitForMessages(4);

    const rec = await recording();
    expect(rec.messages.map((m) => ('text' in m ? m.text : m.kind))).toEqual([
      'before-drop',
      'queued-1',
      'queued-2',
      'after-reopen',
    ]);
    expect(rec.states).toEqual(['connecting.opening', 'open', 'reconnecting.backoff', 'connecting.opening', 'open']);
    expect(rec.readyStates).toEqual([0, 1, 0, 0, 1]);
    expect(rec.events).toEqual([
      { type: 'open', state: 'open', readyState: 1 },
      // Written on the lost socket and never confirmed (no pong, no clean close): reported, though it arrived.
      { type: 'drop', reason: 'unconfirmed', data: 'before-drop' },
      // The lost socket's close: not the end of the session (no closedBy), and the chart is already reconnecting.
      { type: 'close', code: 1006, reason: '', wasClean: false, closedBy: null, state: 'reconnecting.backoff', readyState: 0 },
      { type: 'reconnecting', attempt: 1, state: 'reconnecting.backoff', readyState: 0 },
      { type: 'queued', state: 'reconnecting.backoff', readyState: 0, buffered: 'queued-1'.length + 'queued-2'.length },
      { type: 'open', state: 'open', readyState: 1 },
    ]);
    expect(ws.accepted).toBe(acceptedBefore + 1);
    expect(ws.received.slice(-4)).toEqual(['before-drop', 'queued-1', 'queued-2', 'after-reopen']);
    await page.screenshot({ path: `${SHOTS}reconnected.png` });
  });

  it("round-trips binary as ArrayBuffer with binaryType 'arraybuffer', kept across a reconnect", async () => {
    await connect();
    await waitForState('open');
    const before = await page.evaluate(() => {
      const { conn } = window as unknown as PageGlobals;
      const initial = conn.binaryType;
      conn.binaryType = 'arraybuffer';
      conn.send(new Uint8Array([0, 1, 2, 127, 128, 255]));
      return { initial, now: conn.binaryType };
    });
    expect(before).toEqual({ initial: 'blob', now: 'arraybuffer' });
    await waitForMessages(1);
    expect((await recording()).messages).toEqual([{ kind: 'arraybuffer', bytes: [0, 1, 2, 127, 128, 255] }]);
    expect(ws.received.at(-1)).toEqual(Buffer.from([0, 1, 2, 127, 128, 255]));

    ws.dropAll();
    await page.waitForFunction(
      () => (window as unknown as PageGlobals).rec.events.filter((e) => e.type === 'open').length === 2,
      undefined,
      WAIT,
    );
    const after = await page.evaluate(() => {
      const { conn } = window as unknown as PageGlobals;
      conn.send(new Uint8Array([9, 8, 7]).buffer);
      return conn.binaryType;
    });
    expect(after).toBe('arraybuffer');
    await waitForMessages(2);
    expect((await recording()).messages[1]).toEqual({ kind: 'arraybuffer', bytes: [9, 8, 7] });
  });

  it("close(1000, 'bye') closes cleanly and ends in 'closed'", async () => {
    await connect();
    await waitForState('open');
    const during = await page.evaluate(() => {
      const { conn } = window as unknown as PageGlobals;
      conn.close(1000, 'bye');
      return { state: conn.state, readyState: conn.readyState };
    });
    expect(during).toEqual({ state: 'closing', readyState: 2 });
    await waitForState('closed');
    await page.waitForFunction(
      () => (window as unknown as PageGlobals).rec.events.some((e) => e.type === 'close'),
      undefined,
      WAIT,
    );

    const rec = await recording();
    expect(rec.events.filter((e) => e.type === 'close')).toEqual([
      { type: 'close', code: 1000, reason: 'bye', wasClean: true, closedBy: 'user', state: 'closed', readyState: 3 },
    ]);
    expect(rec.states).toEqual(['connecting.opening', 'open', 'closing', 'closed']);
    expect(rec.readyStates).toEqual([0, 1, 2, 3]);

    const afterwards = await page.evaluate(async () => {
      const { conn, rec } = window as unknown as PageGlobals;
      conn.send('too late');
      const opened = await conn.opened().then(
        () => 'resolved',
        (error: { code?: string }) => error.code,
      );
      return { opened, drops: rec.events.filter((e) => e.type === 'drop'), closedBy: conn.closedBy?.kind, state: conn.state };
    });
    expect(afterwards).toEqual({
      opened: 'ERR_CONNECTION_CLOSED',
      drops: [{ type: 'drop', reason: 'closed', data: 'too late' }],
      closedBy: 'user',
      state: 'closed',
    });
    await expect.poll(() => serverCloses, { timeout: 2_000, interval: 10 }).toEqual([{ code: 1000, reason: 'bye' }]);
  });

  it("close(999) throws ERR_INVALID_CLOSE_CODE and leaves the connection open", async () => {
    await connect();
    await waitForState('open');
    const result = await page.evaluate(() => {
      const { conn, socketchart } = window as unknown as PageGlobals;
      const attempt = (fn: () => void) => {
        try {
          fn();
          return null;
        } catch (error) {
          const e = error as { name?: string; code?: string };
          return { name: e.name, code: e.code, isSocketchartError: socketchart.isSocketchartError(error) };
        }
      };
      return {
        code999: attempt(() => conn.close(999)),
        longReason: attempt(() => conn.close(1000, 'x'.repeat(124))),
        state: conn.state,
        readyState: conn.readyState,
      };
    });
    expect(result).toEqual({
      code999: { name: 'SocketchartError', code: 'ERR_INVALID_CLOSE_CODE', isSocketchartError: true },
      longReason: { name: 'SocketchartError', code: 'ERR_REASON_TOO_LONG', isSocketchartError: true },
      state: 'open',
      readyState: 1,
    });
    expect(serverCloses).toEqual([]);
  });
});
