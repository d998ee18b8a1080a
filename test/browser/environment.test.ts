/**
 * `browserEnvironment()` (src/policies/environment.ts), the default environment of `createConnection` in a browser,
 * in a real headless Chromium against the real `ws` test server. Playwright's `context.setOffline()` flips
 * `navigator.onLine` and fires the window's `offline`/`online` events, as a real network change does.
 *
 * The library is bundled in memory with esbuild into an IIFE (`window.socketchart`), served with a tiny page from a
 * loopback HTTP server, as in browser.test.ts. Everything listens on 127.0.0.1, port 0. The page wraps
 * `window.WebSocket` to count the sockets the connection creates (one per attempt), so "no retry while offline" is
 * measured in the page, whatever Chromium's offline emulation does to the handshakes that would reach the server.
 *
 * Not tested here: the `visibilitychange` half of the environment (a page that becomes visible during a backoff
 * retries at once). Playwright has no way to hide a page: every page it drives reports `visibilityState: 'visible'`
 * and never fires `visibilitychange` (checked with Chromium 156: another page brought to front, a window.open tab,
 * CDP `Browser.setWindowBounds` minimized, `Page.setWebLifecycleState` frozen; see microsoft/playwright#2286).
 * Faking `document.visibilityState` would only retest what the unit tests cover with `createManualEnvironment()`.
 */
import { type Browser, type BrowserContext, type Page } from 'playwright-core';
import { launchChromium } from '../support/chromium.js';
import { type SocketchartPage, serveSocketchartPage } from '../support/socketchartPage.js';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type * as Socketchart from '../../src/index.js';
import { type TestServer, createTestServer } from '../../src/testing/index.js';

const WAIT = { timeout: 4_000, polling: 10 } as const;
/** Backoff of the page's connection: short, so a retry that should not happen would happen many times over. */
const BACKOFF = { initialDelay: 50, maxDelay: 100 } as const;
/** How long "offline" lasts while the test checks that nothing is attempted: several whole backoff windows. */
const OFFLINE_FOR = 600;

interface Recording {
  /** `from -> to (event)` for each statechange. */
  transitions: string[];
  events: Array<Record<string, unknown>>;
  messages: string[];
  /** WebSockets the connection constructed: one per attempt. */
  sockets: number;
  /** How each of those sockets ended, as the DOM reported it. */
  socketCloses: Array<{ code: number; wasClean: boolean }>;
  /** `online`/`offline` window events the page saw, with `navigator.onLine` at that moment. */
  network: string[];
  /** A bare WebSocket the library does not manage: what Chromium itself does to an open socket. */
  probe: { opened: boolean; closed: { code: number; wasClean: boolean } | null; error: boolean };
}

interface PageGlobals {
  socketchart: typeof Socketchart;
  conn: Socketchart.Connection<unknown>;
  rec: Recording;
}

const PAGE_HTML = `<!doctype html>
<html><head><meta charset="utf-8"><title>socketchart environment test</title></head>
<body><script src="/socketchart.js"></script></body></html>`;

let browser: Browser;
let context: BrowserContext;
let http: SocketchartPage;
let pageUrl: string;
let ws: TestServer;
let page: Page;
let pageErrors: string[] = [];
/** Close frames (or drops) the server saw, per test. */
let serverCloses: number[] = [];

beforeAll(async () => {
  const [served, server, launched] = await Promise.all([
    serveSocketchartPage(PAGE_HTML),
    createTestServer({ onConnection: (socket) => socket.on('close', (code) => serverCloses.push(code)) }),
    launchChromium(),
  ]);
  ws = server;
  browser = launched;
  context = await browser.newContext();
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
  await context.setOffline(false);
  page = await context.newPage();
  page.on('pageerror', (error) => pageErrors.push(String(error)));
  await page.goto(pageUrl);
  await page.waitForFunction(() => typeof (window as unknown as PageGlobals).socketchart === 'object', undefined, WAIT);
});

afterEach(async () => {
  await context.setOffline(false);
  await page.close();
  await expect.poll(() => ws.sockets.size, { timeout: 2_000, interval: 10 }).toBe(0);
  expect(pageErrors).toEqual([]);
});

/**
 * Counts the page's WebSockets, opens a bare probe socket, then creates `window.conn` with the default
 * environment (no `environment` option: in a page that is `browserEnvironment()`).
 */
async function connect(options: Socketchart.ConnectionOptions = {}): Promise<void> {
  await page.evaluate(
    ({ url, options }) => {
      const w = window as unknown as PageGlobals & { WebSocket: typeof WebSocket };
      const rec: Recording = {
        transitions: [],
        events: [],
        messages: [],
        sockets: 0,
        socketCloses: [],
        network: [],
        probe: { opened: false, closed: null, error: false },
      };
      w.rec = rec;
      const Native = w.WebSocket;
      const probe = new Native(url);
      probe.onopen = () => (rec.probe.opened = true);
      probe.onerror = () => (rec.probe.error = true);
      probe.onclose = (e) => (rec.probe.closed = { code: e.code, wasClean: e.wasClean });
      w.WebSocket = class CountedWebSocket extends Native {
        constructor(address: string | URL, protocols?: string | string[]) {
          super(address, protocols);
          rec.sockets++;
          this.addEventListener('close', (e) => rec.socketCloses.push({ code: e.code, wasClean: e.wasClean }));
        }
      };
      for (const type of ['online', 'offline']) window.addEventListener(type, () => rec.network.push(`${type} onLine=${navigator.onLine}`));

      const conn = w.socketchart.createConnection(url, options);
      w.conn = conn;
      conn.addEventListener('statechange', (e) => rec.transitions.push(`${e.from} -> ${e.to} (${e.event.type})`));
      conn.addEventListener('message', (e) => rec.messages.push(String(e.data)));
      conn.addEventListener('open', () => rec.events.push({ type: 'open' }));
      conn.addEventListener('reconnecting', (e) => rec.events.push({ type: 'reconnecting', attempt: e.attempt }));
      conn.addEventListener('close', (e) =>
        rec.events.push({ type: 'close', code: e.code, reason: e.reason, closedBy: e.closedBy?.kind ?? null, state: conn.state }),
      );
      conn.addEventListener('error', (e) => rec.events.push({ type: 'error', message: e.message }));
    },
    { url: ws.url('/'), options: { backoff: BACKOFF, ...options } },
  );
  await page.waitForFunction(() => (window as unknown as PageGlobals).rec.probe.opened, undefined, WAIT);
}

const recording = () => page.evaluate(() => (window as unknown as PageGlobals).rec);
const snapshot = () =>
  page.evaluate(() => {
    const { conn } = window as unknown as PageGlobals;
    return { state: conn.state, readyState: conn.readyState, onLine: navigator.onLine };
  });
const waitForState = (state: string) =>
  page.waitForFunction((s) => (window as unknown as PageGlobals).conn.state === s, state, WAIT);
/** Sends `text` and waits for the echo. */
async function roundTrip(text: string): Promise<void> {
  await page.evaluate((t) => (window as unknown as PageGlobals).conn.send(t), text);
  await page.waitForFunction((t) => (window as unknown as PageGlobals).rec.messages.includes(t), text, WAIT);
}
/** Real time passes with the page offline; the connection must not attempt anything meanwhile. */
const stayOffline = () => page.waitForTimeout(OFFLINE_FOR);

describe('browserEnvironment() in headless Chromium (context.setOffline)', () => {
  it('an open connection goes to reconnecting.waitingForNetwork when offline, tries nothing, and reopens when online', async () => {
    // The server's counters run over the whole file.
    const acceptedBefore = ws.accepted;
    const receivedBefore = ws.received.length;
    await connect();
    await waitForState('open');
    await roundTrip('before offline');
    expect((await recording()).sockets).toBe(1);

    await context.setOffline(true);
    await waitForState('reconnecting.waitingForNetwork');
    expect(await snapshot()).toEqual({ state: 'reconnecting.waitingForNetwork', readyState: 0, onLine: false });
    // The page saw the offline event, and the chart left `open` on it (not on a socket error, not via backoff).
    let rec = await recording();
    expect(rec.network).toEqual(['offline onLine=false']);
    expect(rec.transitions).toEqual([
      'connecting.opening -> open (SOCKET.OPEN)',
      'open -> reconnecting.waitingForNetwork (NETWORK.OFFLINE)',
    ]);
    // The open socket's close event: not the end of the session, the chart is already waiting for the network.
    expect(rec.events).toEqual([
      { type: 'open' },
      { type: 'close', code: 1006, reason: 'Network offline', closedBy: null, state: 'reconnecting.waitingForNetwork' },
    ]);

    // Sends while offline are queued, and nothing is attempted: no new socket, no backoff, no state change.
    await page.evaluate(() => (window as unknown as PageGlobals).conn.send('queued offline'));
    await stayOffline();
    rec = await recording();
    expect(await snapshot()).toEqual({ state: 'reconnecting.waitingForNetwork', readyState: 0, onLine: false });
    expect(rec.sockets).toBe(1);
    expect(rec.transitions).toHaveLength(2);
    expect(rec.events.filter((e) => e.type === 'reconnecting' || e.type === 'error')).toEqual([]);
    expect(ws.accepted - acceptedBefore).toBe(2); // the probe and the connection's first socket
    expect(await page.evaluate(() => (window as unknown as PageGlobals).conn.bufferedAmount)).toBe('queued offline'.length);
    // The library let go of its socket (the server saw it end); Chromium's own verdict on a bare socket is the probe.
    await expect.poll(() => serverCloses.length, { timeout: 2_000, interval: 10 }).toBeGreaterThanOrEqual(1);

    await context.setOffline(false);
    await waitForState('open');
    rec = await recording();
    expect(rec.network).toEqual(['offline onLine=false', 'online onLine=true']);
    expect(rec.transitions.slice(2)).toEqual([
      'reconnecting.waitingForNetwork -> connecting.opening (NETWORK.ONLINE)',
      'connecting.opening -> open (SOCKET.OPEN)',
    ]);
    expect(rec.sockets).toBe(2);
    // What was queued offline went out on the new socket, and a fresh message round-trips.
    await page.waitForFunction(() => (window as unknown as PageGlobals).rec.messages.includes('queued offline'), undefined, WAIT);
    await roundTrip('after online');
    expect((await recording()).messages).toEqual(['before offline', 'queued offline', 'after online']);
    expect(ws.received.slice(receivedBefore)).toEqual(['before offline', 'queued offline', 'after online']);
    expect(await snapshot()).toEqual({ state: 'open', readyState: 1, onLine: true });
  });

  it('offline during a backoff moves to reconnecting.waitingForNetwork and cancels the pending retry', async () => {
    // A long backoff: the retry must come from the online event, not from the timer.
    await connect({ backoff: { initialDelay: 30_000, maxDelay: 30_000 } });
    await waitForState('open');
    ws.dropAll();
    await waitForState('reconnecting.backoff');

    await context.setOffline(true);
    await waitForState('reconnecting.waitingForNetwork');
    await stayOffline();
    let rec = await recording();
    expect(rec.transitions).toEqual([
      'connecting.opening -> open (SOCKET.OPEN)',
      'open -> reconnecting.backoff (SOCKET.CLOSE)',
      'reconnecting.backoff -> reconnecting.waitingForNetwork (NETWORK.OFFLINE)',
    ]);
    expect(rec.sockets).toBe(1);

    await context.setOffline(false);
    await waitForState('open');
    rec = await recording();
    expect(rec.transitions.slice(3)).toEqual([
      'reconnecting.waitingForNetwork -> connecting.opening (NETWORK.ONLINE)',
      'connecting.opening -> open (SOCKET.OPEN)',
    ]);
    expect(rec.sockets).toBe(2);
    await roundTrip('back');
  });

  it('a connection created while offline tries once, then waits for the network instead of backing off', async () => {
    await connect({ startClosed: true });
    await context.setOffline(true);
    await page.waitForFunction(() => !navigator.onLine, undefined, WAIT);
    await page.evaluate(() => (window as unknown as PageGlobals).conn.open());
    await waitForState('reconnecting.waitingForNetwork');
    await stayOffline();
    let rec = await recording();
    // Chromium fails a handshake started while offline (error, then 1006); the chart, seeing navigator.onLine
    // false, waits for the network instead of scheduling a retry.
    expect(rec.transitions).toEqual([
      'idle -> connecting.opening (CONNECT)',
      'connecting.opening -> reconnecting.waitingForNetwork (SOCKET.CLOSE)',
    ]);
    expect(rec.socketCloses).toEqual([{ code: 1006, wasClean: false }]);
    expect(rec.events).toEqual([{ type: 'error', message: 'WebSocket error' }]);
    expect(rec.sockets).toBe(1);
    expect((await snapshot()).state).toBe('reconnecting.waitingForNetwork');

    await context.setOffline(false);
    await waitForState('open');
    rec = await recording();
    expect(rec.sockets).toBe(2);
    await roundTrip('hello after offline start');
  });
});

/**
 * What Chromium itself does when the page goes offline, pinned so a change shows up: its offline emulation fails new
 * handshakes but leaves an open WebSocket alone. Ending the connection's socket is therefore the library's doing.
 */
describe("Chromium's own offline behaviour", () => {
  it('setOffline(true) leaves a bare open WebSocket open; the library closes its own socket (no code: 1005)', async () => {
    await connect();
    await waitForState('open');
    await context.setOffline(true);
    await waitForState('reconnecting.waitingForNetwork');
    await stayOffline();
    const rec = await recording();
    expect(rec.probe).toEqual({ opened: true, closed: null, error: false });
    expect(await page.evaluate(() => navigator.onLine)).toBe(false);
    // The connection's socket: closed by the library on the offline event, cleanly, with a close frame without code.
    await page.waitForFunction(() => (window as unknown as PageGlobals).rec.socketCloses.length === 1, undefined, WAIT);
    expect((await recording()).socketCloses).toEqual([{ code: 1005, wasClean: true }]);
    await expect.poll(() => serverCloses, { timeout: 2_000, interval: 10 }).toEqual([1005]);
  });
});
