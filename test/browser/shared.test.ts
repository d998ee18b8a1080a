/**
 * createSharedConnection in real headless Chromium: several pages of ONE browser context (so they share Web Locks
 * and BroadcastChannel, as tabs of one origin do) against a real `ws` server on 127.0.0.1. No fixed sleeps: pages
 * record what they see and the tests wait for it.
 */
import type { AddressInfo } from 'node:net';
import { type Browser, type BrowserContext, type Page } from 'playwright-core';
import { WebSocket, WebSocketServer } from 'ws';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { launchChromium } from '../support/chromium.js';
import type { SocketchartPage } from '../support/socketchartPage.js';
import { serveSharedPage } from '../support/sharedPage.js';
import { readFileSync } from 'node:fs';
import type * as Socketchart from '../../src/index.js';
import { leaderMachine } from '../../src/shared/leaderMachine.js';
import { toMermaid } from '../../src/visualize/mermaid.js';
import { type AckServer, type AckSession, attachAckServer } from '../../src/server/index.js';
import { atLeastOnce } from '../../src/delivery/atLeastOnce.js';
import type { DeliveryHost, DeliveryLayer } from '../../src/delivery/types.js';
import { type LeaderPost, SharedSession } from '../../src/shared/session.js';

const WAIT = { timeout: 5_000, polling: 10 } as const;

interface Recording {
  states: string[];
  messages: unknown[];
  drops: Array<{ reason: string; message: unknown }>;
  events: string[];
}

interface PageGlobals {
  socketchart: typeof Socketchart & { requests?: () => unknown; atLeastOnce: (options?: unknown) => unknown };
  conn: Socketchart.SharedConnection<unknown, unknown>;
  rec: Recording;
}

const PAGE_HTML = `<!doctype html><html><head><meta charset="utf-8"><title>shared</title></head>
<body><script src="/socketchart.js"></script></body></html>`;

/** A `ws` server that records what it receives, echoes `echo:` texts and answers `{ type: 'get' }` requests. */
interface Server {
  url: string;
  accepted: number;
  sockets: Set<WebSocket>;
  received: string[];
  broadcast(text: string): void;
  close(): Promise<void>;
}

async function startServer(): Promise<Server> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
  const server: Server = {
    url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/`,
    accepted: 0,
    sockets: new Set(),
    received: [],
    broadcast: (text) => {
      for (const socket of server.sockets) socket.send(text);
    },
    close: () =>
      new Promise((resolve) => {
        for (const socket of server.sockets) socket.terminate();
        wss.close(() => resolve());
      }),
  };
  wss.on('connection', (socket) => {
    server.accepted++;
    server.sockets.add(socket);
    socket.on('close', () => server.sockets.delete(socket));
    socket.on('message', (raw) => {
      const text = raw.toString();
      server.received.push(text);
      if (text.startsWith('echo:')) socket.send(text);
      else if (text.startsWith('{')) {
        const message = JSON.parse(text) as { type?: string; id?: string; key?: string };
        if (message.type === 'get') socket.send(JSON.stringify({ type: 'reply', id: message.id, value: `value of ${message.key}` }));
      }
    });
  });
  return server;
}

/** `attachAckServer` on its own `ws` server: records every client message `onMessage` processed. */
interface AckTestServer {
  url: string;
  ack: AckServer;
  received: string[];
  /** The one session's `send` (the test checks there is one). */
  send(text: string): void;
  close(): Promise<void>;
}

async function startAckServer(): Promise<AckTestServer> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
  const received: string[] = [];
  let session: AckSession | null = null;
  const ack = attachAckServer(wss, {
    onMessage: (_session, payload) => {
      received.push(String(payload));
    },
    onSession: (s) => {
      session = s;
    },
  });
  return {
    url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/`,
    ack,
    received,
    send: (text) => {
      if (!session?.send(text)) throw new Error(`the session did not take ${text}`);
    },
    close: () =>
      new Promise((resolve) => {
        ack.close();
        for (const socket of wss.clients) socket.terminate();
        wss.close(() => resolve());
      }),
  };
}

/** Sends `${tab}-0` .. `${tab}-${total - 1}` from a page: a quarter now, a quarter the moment the handover shows, the rest in small slices. */
function startSending(page: Page, tab: string, total: number): Promise<void> {
  return page.evaluate(({ tab, total }) => {
    const { conn } = window as unknown as PageGlobals;
    let i = 0;
    const sendSome = (n: number) => {
      for (const end = Math.min(total, i + n); i < end; ) conn.send(`${tab}-${i++}`);
    };
    sendSome(total / 4);
    conn.addEventListener('statechange', (e) => {
      if (e.to === 'reconnecting.backoff') sendSome(total / 4);
    });
    const tick = () => {
      sendSome(5);
      if (i < total) setTimeout(tick, 1);
    };
    conn.addEventListener('reconnecting', () => setTimeout(tick, 0), { once: true });
  }, { tab, total });
}

const numbered = (prefix: string, from: number, to: number) => Array.from({ length: to - from }, (_, i) => `${prefix}-${from + i}`);

let browser: Browser;
let context: BrowserContext;
let http: SocketchartPage;
let server: Server;
let pages: Page[] = [];
let pageErrors: string[] = [];
/** A fresh lock/channel name per test, so pages of one test never meet another's. */
let name = '';
let testNumber = 0;

beforeAll(async () => {
  const [served, launched] = await Promise.all([serveSharedPage(PAGE_HTML), launchChromium()]);
  http = served;
  browser = launched;
  context = await browser.newContext();
});

afterAll(async () => {
  await context?.close().catch(() => {});
  await browser?.close();
  await http?.close();
});

beforeEach(async () => {
  server = await startServer();
  pages = [];
  pageErrors = [];
  name = `shared-test-${++testNumber}`;
});

afterEach(async () => {
  await Promise.all(pages.map((page) => page.close().catch(() => {})));
  await server.close();
  expect(pageErrors).toEqual([]);
});

interface TabOptions {
  json?: boolean;
  noLocks?: boolean;
  /** `delivery: atLeastOnce(ack)`, against this server URL. */
  ackUrl?: string;
  ack?: Record<string, unknown>;
  /** The connection's `flow` option. */
  flow?: Record<string, unknown>;
  /**
   * Fault injection: this tab receives the session posts (`log`, `acked`, `session`) and the `bye` of the first
   * leader it hears of this many ms late, as a tab may whose channel is slower than the lock.
   */
  lateFromLeader?: number;
}

/** Opens a page (a tab) and creates `window.conn`, recording its states, messages and drops. */
async function openTab(options: TabOptions = {}): Promise<Page> {
  const page = await context.newPage();
  pages.push(page);
  page.on('pageerror', (error) => pageErrors.push(String(error)));
  if (options.noLocks) {
    // A browser without Web Locks (or a page outside a secure context, where navigator.locks is absent).
    await page.addInitScript(() => Object.defineProperty(Navigator.prototype, 'locks', { get: () => undefined, configurable: true }));
  }
  if (options.lateFromLeader !== undefined) {
    await page.addInitScript((ms) => {
      const own = Object.getOwnPropertyDescriptor(BroadcastChannel.prototype, 'onmessage') as PropertyDescriptor;
      let leader: string | null = null;
      Object.defineProperty(BroadcastChannel.prototype, 'onmessage', {
        configurable: true,
        get() {
          return own.get?.call(this);
        },
        set(handler: ((e: MessageEvent) => void) | null) {
          own.set?.call(this, handler && ((e: MessageEvent) => {
            const msg = e.data as { t?: string; from?: string };
            if (msg?.t === 'leader' && leader === null) leader = msg.from ?? null;
            if (msg?.from === leader && ['log', 'acked', 'session', 'bye'].includes(msg.t ?? '')) setTimeout(() => handler.call(this, e), ms);
            else handler.call(this, e);
          }));
        },
      });
    }, options.lateFromLeader);
  }
  await page.goto(http.url);
  await page.waitForFunction(() => typeof (window as unknown as PageGlobals).socketchart === 'object', undefined, WAIT);
  await page.evaluate(
    ({ url, name, json, ack, flow, ackOptions }) => {
      const w = window as unknown as PageGlobals;
      const conn = w.socketchart.createSharedConnection<unknown, unknown>(url, {
        name,
        backoff: { initialDelay: 50, maxDelay: 100 },
        ...(json ? { codec: w.socketchart.jsonCodec() } : {}),
        ...(ack ? { delivery: w.socketchart.atLeastOnce(ackOptions) as never } : {}),
        ...(flow ? { flow } : {}),
        // Request/response is a plug-in once src/plugins/requests.ts exists (see test/support/sharedPage.ts).
        ...(json && w.socketchart.requests ? { requests: w.socketchart.requests() as never } : {}),
      });
      const rec: Recording = { states: [conn.state], messages: [], drops: [], events: [] };
      w.conn = conn;
      w.rec = rec;
      conn.addEventListener('statechange', (e) => rec.states.push(e.to));
      conn.addEventListener('message', (e) => rec.messages.push(e.data));
      conn.addEventListener('drop', (e) => rec.drops.push({ reason: e.reason, message: e.message }));
      for (const type of ['open', 'close', 'reconnecting'] as const) conn.addEventListener(type, () => rec.events.push(type));
    },
    { url: options.ackUrl ?? server.url, name, json: options.json === true, ack: options.ackUrl !== undefined, flow: options.flow, ackOptions: options.ack },
  );
  return page;
}

const globals = (page: Page) => page.evaluate(() => {
  const { conn, rec } = window as unknown as PageGlobals;
  return { state: conn.state, role: conn.role, shared: conn.shared, readyState: conn.readyState, rec };
});

const waitOpen = (page: Page) => page.waitForFunction(() => (window as unknown as PageGlobals).conn.state === 'open', undefined, WAIT);

async function until(check: () => boolean | Promise<boolean>, what: string): Promise<void> {
  await expect.poll(check, { timeout: WAIT.timeout, interval: 10, message: what }).toBe(true);
}

/** Crashes the page's renderer (Chrome DevTools Protocol): no pagehide, no bye, the lock freed by the browser. */
async function crash(page: Page): Promise<void> {
  const cdp = await context.newCDPSession(page);
  const crashed = new Promise<void>((resolve) => page.once('crash', () => resolve()));
  cdp.send('Page.crash').catch(() => {});
  await crashed;
}

async function leaderOf(tabs: Page[]): Promise<Page> {
  const roles = await Promise.all(tabs.map((page) => page.evaluate(() => (window as unknown as PageGlobals).conn.role)));
  expect(roles.filter((role) => role === 'leader')).toHaveLength(1);
  return tabs[roles.indexOf('leader')] as Page;
}

describe('the leader chart', () => {
  it("README's diagram is the one the machine generates now", () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const block = /<!-- shared-diagram:start -->\n```mermaid\n([\s\S]*?)```\n<!-- shared-diagram:end -->/.exec(readme)?.[1];
    expect(block).toBe(toMermaid(leaderMachine));
  });
});

describe('the session every tab keeps (session.ts, no browser needed)', () => {
  /** A tab's session copy; what it publishes as leader lands in `posts`, its backlog acks in `logged`. */
  function tabSession(tab: string, relaying: () => { from: string; seq: number } | null = () => null) {
    const posts: LeaderPost[] = [];
    const logged: number[] = [];
    const session = new SharedSession({ tab, publish: (msg) => posts.push(structuredClone(msg)), relaying, logged: (n) => logged.push(n) });
    return { session, posts, logged };
  }

  /** The real layer on a host that records its frames (the connection's part, without a socket). */
  function layerOn(frames: string[]): DeliveryLayer {
    const host: DeliveryHost = {
      write: (frame) => (frames.push(String(frame)), true),
      mayWrite: () => true,
      waitToWrite: () => {},
      drop: () => {},
      setTimeout: () => 0,
      clearTimeout: () => {},
    };
    return atLeastOnce()(host);
  }

  const tick = () => new Promise<void>((resolve) => queueMicrotask(resolve));

  it('a new leader that saw less than another tab resumes from its own mark; the other tab skips what it already had', async () => {
    const a = tabSession('A', () => ({ from: 'B', seq: 1 }));
    const framesA: string[] = [];
    const layerA = layerOn(framesA);
    layerA.share?.(a.session);
    a.session.lead(layerA);
    const b = tabSession('B');
    const c = tabSession('C');
    for (const follower of [b, c]) follower.session.announced(a.session.wire() as never, 'A');

    // A follower's send: numbered, logged to the tabs before it is written; the log entry acknowledges it.
    layerA.opened();
    layerA.send('from B', 'from B');
    expect(framesA.some((f) => f.startsWith('1:'))).toBe(false);
    await tick();
    expect(framesA.at(-1)).toBe('1:from B');
    const log = a.posts.find((p) => p.t === 'log');
    expect(log).toMatchObject({ entries: [{ seq: 1, data: 'from B', from: 'B', tabSeq: 1 }] });
    for (const follower of [b, c]) follower.session.apply({ ...(log as Extract<LeaderPost, { t: 'log' }>), from: 'A', epoch: 1 });
    expect(b.logged).toEqual([1]);

    // Inbound 1..10 relayed by A; B got 1..8 before it took the lock, C all ten.
    for (let seq = 1; seq <= 10; seq++) {
      if (seq <= 8) expect(b.session.accept(seq, 'A')).toBe(true);
      expect(c.session.accept(seq, 'A')).toBe(true);
    }
    // B leads: its layer resumes A's session with B's own mark and A's unacknowledged message under its seq.
    const framesB: string[] = [];
    const layerB = layerOn(framesB);
    layerB.share?.(b.session);
    b.session.lead(layerB);
    layerB.opened();
    const sid = (a.session.wire() as { sid: string }).sid;
    expect(framesB).toEqual([`{"type":"hello","sid":"${sid}","ack":8,"next":1}`, '1:from B']);
    // The server replays 9 and 10 to B; C had them from A and skips them, then takes 11 (twice: one frame, a batch).
    expect([9, 10, 11, 11].map((seq) => c.session.accept(seq, 'B'))).toEqual([false, false, true, true]);
    // A late message of A's with a seq C has is not taken either.
    expect(c.session.accept(11, 'A')).toBe(false);
  });
});

describe('createSharedConnection in Chromium', () => {
  it('three tabs: one WebSocket, a broadcast reaches all three, a send from each arrives once', async () => {
    const tabs = [await openTab(), await openTab(), await openTab()];
    await Promise.all(tabs.map(waitOpen));
    expect(server.accepted).toBe(1);
    expect(server.sockets.size).toBe(1);
    const seen = await Promise.all(tabs.map(globals));
    expect(seen.map((s) => s.shared)).toEqual([true, true, true]);
    expect(seen.map((s) => s.role)).toEqual(['leader', 'follower', 'follower']);
    // Every tab followed the leader's chart: the same states, the same readyState.
    for (const s of seen) {
      expect(s.readyState).toBe(1);
      expect(s.rec.states.at(-1)).toBe('open');
    }

    server.broadcast('to everyone');
    for (const page of tabs) {
      await page.waitForFunction(() => (window as unknown as PageGlobals).rec.messages.includes('to everyone'), undefined, WAIT);
    }

    await Promise.all(tabs.map((page, i) => page.evaluate((i) => (window as unknown as PageGlobals).conn.send(`from tab ${i}`), i)));
    // Then one more per tab: per-tab order means a duplicate of the first would arrive before it.
    await Promise.all(tabs.map((page, i) => page.evaluate((i) => (window as unknown as PageGlobals).conn.send(`after ${i}`), i)));
    await until(() => [0, 1, 2].every((i) => server.received.includes(`after ${i}`)), 'all sends arrive');
    for (const i of [0, 1, 2]) expect(server.received.filter((m) => m === `from tab ${i}`)).toHaveLength(1);
    expect(server.accepted).toBe(1);
  });

  it('a tab opened later joins the existing connection without a new socket, from a snapshot', async () => {
    const first = [await openTab(), await openTab()];
    await Promise.all(first.map(waitOpen));
    const late = await openTab();
    await waitOpen(late);
    const s = await globals(late);
    expect(s).toMatchObject({ role: 'follower', shared: true, state: 'open' });
    expect(s.rec.states).toEqual(['connecting.opening', 'open']);
    expect(server.accepted).toBe(1);
    await late.evaluate(() => (window as unknown as PageGlobals).conn.send('echo:late'));
    for (const page of [...first, late]) {
      await page.waitForFunction(() => (window as unknown as PageGlobals).rec.messages.includes('echo:late'), undefined, WAIT);
    }
  });

  it('request() from followers: the leader tracks it and each reply reaches only the tab that asked', async () => {
    const tabs = [await openTab({ json: true }), await openTab({ json: true }), await openTab({ json: true })];
    await Promise.all(tabs.map(waitOpen));
    const replies = await Promise.all(
      tabs.map((page, i) => page.evaluate((i) => (window as unknown as PageGlobals).conn.request({ type: 'get', key: `k${i}` }, { timeout: 4_000 }), i)),
    );
    expect(replies).toEqual([0, 1, 2].map((i) => expect.objectContaining({ type: 'reply', value: `value of k${i}` })));
    // Each tab numbers its requests from "1"; the leader's tracker gave them distinct ids on the wire.
    const ids = server.received.map((m) => (JSON.parse(m) as { id: string }).id);
    expect(new Set(ids).size).toBe(3);
    // No reply showed up as a message anywhere.
    for (const page of tabs) expect((await globals(page)).rec.messages).toEqual([]);
  });

  it('the leader page closes: the next tab leads, the server sees one new socket, every tab goes reconnecting -> open', async () => {
    const tabs = [await openTab(), await openTab(), await openTab()];
    await Promise.all(tabs.map(waitOpen));
    const leader = await leaderOf(tabs);
    const rest = tabs.filter((page) => page !== leader);
    await leader.close();
    await until(() => server.accepted === 2, 'the new leader connects');
    await Promise.all(rest.map((page) => page.waitForFunction(() => {
      const { conn, rec } = window as unknown as PageGlobals;
      return conn.state === 'open' && rec.states.filter((s) => s === 'open').length === 2;
    }, undefined, WAIT)));
    const newLeader = await leaderOf(rest);
    for (const page of rest) {
      const { rec, role } = await globals(page);
      expect(role).toBe(page === newLeader ? 'leader' : 'follower');
      expect(rec.states).toEqual(['connecting.opening', 'open', 'reconnecting.backoff', 'connecting.opening', 'open']);
      expect(rec.events).toEqual(['open', 'close', 'reconnecting', 'open']);
    }
    expect(server.accepted).toBe(2);
    await until(() => server.sockets.size === 1, 'the old socket is gone');
    // Still one shared connection: a broadcast reaches both, a send from each arrives.
    server.broadcast('after handover');
    for (const page of rest) {
      await page.waitForFunction(() => (window as unknown as PageGlobals).rec.messages.includes('after handover'), undefined, WAIT);
    }
  });

  it('1,000 sends from a follower (and 200 from the next leader) across the handover: all delivered, in order per tab', async () => {
    const tabs = [await openTab(), await openTab(), await openTab()];
    await Promise.all(tabs.map(waitOpen));
    const [leader, heir, follower] = tabs as [Page, Page, Page];
    expect((await globals(leader)).role).toBe('leader');
    // The locks are granted in request order: the second tab is next. It sends too, so its own unacknowledged
    // sends must go out first when it takes over.
    const plan = (tab: string, total: number) =>
      ({ tab, total });
    const start = (page: Page, p: ReturnType<typeof plan>) =>
      page.evaluate(({ tab, total }) => {
        const { conn } = window as unknown as PageGlobals;
        let i = 0;
        const sendSome = (n: number) => {
          for (const end = Math.min(total, i + n); i < end; ) conn.send(`${tab}-${i++}`);
        };
        // A quarter now, a quarter the moment the handover shows (nobody leads then), the rest in small slices.
        sendSome(total / 4);
        conn.addEventListener('statechange', (e) => {
          if (e.to === 'reconnecting.backoff') sendSome(total / 4);
        });
        const tick = () => {
          sendSome(5);
          if (i < total) setTimeout(tick, 1);
        };
        conn.addEventListener('reconnecting', () => setTimeout(tick, 0), { once: true });
      }, p);
    await start(follower, plan('f', 1000));
    await start(heir, plan('h', 200));
    await leader.close();
    const expected = [...Array.from({ length: 1000 }, (_, i) => `f-${i}`), ...Array.from({ length: 200 }, (_, i) => `h-${i}`)];
    await until(() => {
      const got = new Set(server.received);
      return expected.every((m) => got.has(m));
    }, 'every message reaches the server');
    // The old leader's page went without confirming what it wrote last (browsers cannot ping): each tab reports its
    // own of those as `unconfirmed`, as one tab does when its socket dies; nothing else is dropped.
    let unconfirmed = 0;
    for (const page of [heir, follower]) {
      const { drops } = (await globals(page)).rec;
      expect(drops.filter((d) => d.reason !== 'unconfirmed')).toEqual([]);
      expect(drops.every((d) => server.received.includes(d.message as string))).toBe(true);
      unconfirmed += drops.length;
    }
    for (const prefix of ['f', 'h']) {
      const firsts = [...new Set(server.received.filter((m) => m.startsWith(`${prefix}-`)))].map((m) => Number(m.slice(2)));
      expect(firsts).toEqual([...firsts].sort((a, b) => a - b));
    }
    const duplicates = server.received.length - new Set(server.received).size;
    console.log(`handover: ${expected.length} sends, ${duplicates} duplicates, ${unconfirmed} reported unconfirmed, ${server.accepted} sockets`);
    expect(server.accepted).toBe(2);
  });

  it('a drop of a relayed message reaches the tab that sent it', async () => {
    const tabs = [await openTab(), await openTab()];
    await Promise.all(tabs.map(waitOpen));
    const [leader, follower] = tabs as [Page, Page];
    await follower.evaluate(() => (window as unknown as PageGlobals).conn.send('from follower'));
    await leader.evaluate(() => (window as unknown as PageGlobals).conn.send('from leader'));
    await until(() => server.received.includes('from follower') && server.received.includes('from leader'), 'both arrive');
    // The server drops the socket: in plain mode nothing confirmed those writes (browsers cannot ping), so each is
    // reported as `unconfirmed`, in the tab that sent it.
    for (const socket of server.sockets) socket.terminate();
    await follower.waitForFunction(() => (window as unknown as PageGlobals).rec.drops.length > 0, undefined, WAIT);
    await leader.waitForFunction(() => (window as unknown as PageGlobals).rec.drops.length > 0, undefined, WAIT);
    expect((await globals(follower)).rec.drops).toEqual([{ reason: 'unconfirmed', message: 'from follower' }]);
    expect((await globals(leader)).rec.drops).toEqual([{ reason: 'unconfirmed', message: 'from leader' }]);
  });

  it('a drop of a relayed message while the leader closes reaches the tab that sent it, not the leader', async () => {
    // One message a second: the follower's later sends wait in the leader's queue (acknowledged to the follower).
    const flow = { rateLimit: { perSecond: 1, burst: 1 } };
    const tabs = [await openTab({ flow }), await openTab({ flow })];
    await Promise.all(tabs.map(waitOpen));
    const [leader, follower] = tabs as [Page, Page];
    await follower.evaluate(() => {
      const { conn } = window as unknown as PageGlobals;
      for (const text of ['q-0', 'q-1', 'q-2']) conn.send(text);
    });
    await until(() => server.received.includes('q-0'), 'the first is written');
    await follower.waitForFunction(() => (window as unknown as PageGlobals).conn.bufferedAmount === 0, undefined, WAIT);
    await leader.evaluate(() => (window as unknown as PageGlobals).conn.close());
    await follower.waitForFunction(() => (window as unknown as PageGlobals).rec.drops.length >= 2, undefined, WAIT);
    expect((await globals(follower)).rec.drops).toEqual([
      { reason: 'closed', message: 'q-1' },
      { reason: 'closed', message: 'q-2' },
    ]);
    expect((await globals(leader)).rec.drops).toEqual([]);
  });

  it('the leader page crashes: each tab reports its sends the leader wrote and never confirmed (unconfirmed), once', async () => {
    const tabs = [await openTab(), await openTab(), await openTab()];
    await Promise.all(tabs.map(waitOpen));
    const [leader, heir, follower] = tabs as [Page, Page, Page];
    expect((await globals(leader)).role).toBe('leader');
    const send = (page: Page, text: string) => page.evaluate((text) => (window as unknown as PageGlobals).conn.send(text), text);
    const drops = (page: Page, n: number) => page.waitForFunction((n) => (window as unknown as PageGlobals).rec.drops.length >= n, n, WAIT);
    // Reported by the leader itself when its socket drops (browsers cannot ping: nothing confirmed them), and then
    // settled: not to be reported again when the leader goes later.
    await send(follower, 'f-0');
    await send(heir, 'h-0');
    await until(() => server.received.includes('f-0') && server.received.includes('h-0'), 'both arrive');
    for (const socket of server.sockets) socket.terminate();
    await Promise.all([drops(follower, 1), drops(heir, 1)]);
    await until(() => server.accepted === 2 && server.sockets.size === 1, 'the leader reconnects');
    await Promise.all(tabs.map((page) => page.waitForFunction(() => (window as unknown as PageGlobals).rec.states.filter((s) => s === 'open').length === 2, undefined, WAIT)));
    // Written on the new socket, then the leader's page dies without a word: only the tabs that sent them can say.
    await send(follower, 'f-1');
    await send(heir, 'h-1');
    await until(() => server.received.includes('f-1') && server.received.includes('h-1'), 'both arrive');
    await crash(leader);
    await Promise.all([drops(follower, 2), drops(heir, 2)]);
    await until(() => server.accepted === 3, 'the heir connects');
    await follower.waitForFunction(() => (window as unknown as PageGlobals).conn.state === 'open', undefined, WAIT);
    // The follower follows the heir now: a send of its own goes out once, nothing more is reported.
    await send(follower, 'f-2');
    await until(() => server.received.includes('f-2'), 'the follower sends through the heir');
    expect((await globals(heir)).role).toBe('leader');
    expect((await globals(follower)).rec.drops).toEqual([{ reason: 'unconfirmed', message: 'f-0' }, { reason: 'unconfirmed', message: 'f-1' }]);
    expect((await globals(heir)).rec.drops).toEqual([{ reason: 'unconfirmed', message: 'h-0' }, { reason: 'unconfirmed', message: 'h-1' }]);
    pages.splice(pages.indexOf(leader), 1);
  });

  it('without Web Locks: behaves as createConnection, one socket per tab, conn.shared === false', async () => {
    const tabs = [await openTab({ noLocks: true }), await openTab({ noLocks: true })];
    await Promise.all(tabs.map(waitOpen));
    expect(server.accepted).toBe(2);
    for (const page of tabs) {
      const s = await globals(page);
      expect(s).toMatchObject({ shared: false, role: 'leader', state: 'open' });
      expect(s.rec.states).toEqual(['connecting.opening', 'open']);
      const chart = await page.evaluate(() => (window as unknown as PageGlobals).conn.actor.getSnapshot().value);
      expect(chart).toBe('solo');
    }
    await tabs[0]?.evaluate(() => (window as unknown as PageGlobals).conn.send('echo:solo'));
    await tabs[0]?.waitForFunction(() => (window as unknown as PageGlobals).rec.messages.includes('echo:solo'), undefined, WAIT);
    // Its own socket: the other tab does not see it.
    expect((await globals(tabs[1] as Page)).rec.messages).toEqual([]);
  });
});

describe('createSharedConnection with delivery: atLeastOnce() (against attachAckServer)', () => {
  let ackServer: AckTestServer | null = null;
  afterEach(async () => {
    await ackServer?.close();
    ackServer = null;
  });

  it('the leader page closes mid-traffic: one server session throughout, every message exactly once each way, in every tab', async () => {
    const srv = (ackServer = await startAckServer());
    // The tabs never acknowledge inbound messages on their own (no batch fills, the delay never runs out): every
    // one the old leader delivered is still unacknowledged when it goes, and the server replays them all.
    const tab = { ackUrl: srv.url, ack: { ackEvery: 100_000, ackDelay: 600_000 } };
    const tabs = [await openTab(tab), await openTab(tab), await openTab(tab)];
    await Promise.all(tabs.map(waitOpen));
    const [leader, heir, follower] = tabs as [Page, Page, Page];
    expect((await globals(leader)).role).toBe('leader');
    const hasAll = (page: Page, last: string) =>
      page.waitForFunction((last) => (window as unknown as PageGlobals).rec.messages.includes(last), last, WAIT);

    // Inbound before the handover: delivered in every tab, replayed by the server to the next leader.
    for (const text of numbered('in', 0, 100)) srv.send(text);
    await Promise.all(tabs.map((page) => hasAll(page, 'in-99')));
    // The leader's own sends, written just before it goes (the server may not have acknowledged them yet).
    await leader.evaluate(() => {
      for (let i = 0; i < 100; i++) (window as unknown as PageGlobals).conn.send(`a-${i}`);
    });
    await startSending(follower, 'f', 1000);
    await startSending(heir, 'h', 200);
    const closing = leader.close();
    // Around the handover: held by the server session while nobody is attached, replayed on resume.
    for (const text of numbered('in', 100, 200)) srv.send(text);
    await closing;
    await until(() => srv.ack.stats.resumed >= 1 && [...srv.ack.sessions.values()].some((s) => s.connected), 'the next leader resumes the session');
    // After it.
    for (const text of numbered('in', 200, 300)) srv.send(text);

    const expected = [...numbered('a', 0, 100), ...numbered('f', 0, 1000), ...numbered('h', 0, 200)];
    await until(() => {
      const got = new Set(srv.received);
      return expected.every((m) => got.has(m));
    }, 'every message reaches the server');
    await Promise.all([heir, follower].map((page) => hasAll(page, 'in-299')));
    const duplicates = srv.received.length - new Set(srv.received).size;
    console.log(`atLeastOnce handover: ${expected.length} sends, ${duplicates} processed twice, ${srv.ack.stats.duplicates} replays skipped by the server`);
    expect(duplicates).toBe(0);
    expect([...srv.received].sort()).toEqual([...expected].sort());
    // In order per tab.
    for (const prefix of ['a', 'f', 'h']) {
      const order = srv.received.filter((m) => m.startsWith(`${prefix}-`)).map((m) => Number(m.slice(2)));
      expect(order).toEqual([...order].sort((a, b) => a - b));
    }
    for (const page of [heir, follower]) {
      const { rec } = await globals(page);
      expect(rec.messages).toEqual(numbered('in', 0, 300));
      expect(rec.drops).toEqual([]);
    }
    expect(srv.ack.stats.created).toBe(1);
  });

  it("the next leader gets the lock before the old leader's last posts: it gathers the tabs' copies, nothing lost or processed twice", async () => {
    const srv = (ackServer = await startAckServer());
    const tab = { ackUrl: srv.url };
    const leader = await openTab(tab);
    await waitOpen(leader);
    // The heir hears the leader's log, acks and bye 300 ms late (longer than it waits for them): only the other
    // tabs' copies tell it what the leader numbered and wrote last.
    const heir = await openTab({ ...tab, lateFromLeader: 300 });
    const follower = await openTab(tab);
    await Promise.all([heir, follower].map(waitOpen));
    expect((await globals(leader)).role).toBe('leader');
    await leader.evaluate(() => {
      for (let i = 0; i < 100; i++) (window as unknown as PageGlobals).conn.send(`a-${i}`);
    });
    await startSending(follower, 'f', 600);
    await startSending(heir, 'h', 200);
    await until(() => srv.received.includes('a-99'), "the leader's own are written");
    await leader.close();
    await until(() => srv.ack.stats.resumed >= 1 && [...srv.ack.sessions.values()].some((s) => s.connected), 'the heir resumes the session');
    const expected = [...numbered('a', 0, 100), ...numbered('f', 0, 600), ...numbered('h', 0, 200)];
    await until(() => {
      const got = new Set(srv.received);
      return expected.every((m) => got.has(m));
    }, 'every message reaches the server');
    // Sends after the handover too: numbered after the highest seq any tab saw, not under one the server processed.
    await follower.evaluate(() => (window as unknown as PageGlobals).conn.send('f-last'));
    await heir.evaluate(() => (window as unknown as PageGlobals).conn.send('h-last'));
    await until(() => srv.received.includes('f-last') && srv.received.includes('h-last'), 'the last ones arrive');
    const duplicates = srv.received.length - new Set(srv.received).size;
    console.log(`late posts handover: ${expected.length + 2} sends, ${duplicates} processed twice, ${srv.ack.stats.duplicates} replays skipped by the server`);
    expect([...srv.received].sort()).toEqual([...expected, 'f-last', 'h-last'].sort());
    for (const page of [heir, follower]) expect((await globals(page)).rec.drops).toEqual([]);
    expect(srv.ack.stats.created).toBe(1);
  });
});
