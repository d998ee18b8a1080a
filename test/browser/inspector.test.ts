/**
 * The live view (`serveInspector`, `socketchart inspect`) and the React example, end to end in a real headless
 * Chromium against the real `ws` test server. Everything listens on 127.0.0.1, port 0. No fixed sleeps: the page
 * records what it showed (`window.__inspector`), and the tests wait for it with `waitForFunction`.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { request as httpRequest, createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { type Browser, type BrowserContext, type Page } from 'playwright-core';
import { launchChromium } from '../support/chromium.js';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { connectionMachine } from '../../machines/connection.js';
import { activePaths, describeChart, leafPaths, serveInspector } from '../../src/inspector/index.js';
import { createConnection } from '../../src/node.js';
import { type TestServer, createTestServer } from '../../src/testing/index.js';
import { describeMachine } from '../../src/visualize/index.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SHOTS = fileURLToPath(new URL('../../test-output/inspector/', import.meta.url));
const WAIT = { timeout: 5_000, polling: 10 } as const;

/** What the inspector page exposes as `window.__inspector`. */
interface InspectorStatus {
  ready: boolean;
  error: string | null;
  missing: string[];
  state: string | null;
  current: string[];
  shown: Array<{ state: string; current: string[] }>;
  entries: number;
  live: boolean;
}
type WithStatus = Window & { __inspector?: InspectorStatus };

let browser: Browser;
let context: BrowserContext;
let ws: TestServer;
let page: Page;
let pageErrors: string[] = [];
/** Close frames the server received. */
let serverCloses: Array<{ code: number; reason: string }> = [];

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  [ws, browser] = await Promise.all([
    createTestServer({
      onConnection: (socket) => socket.on('close', (code, reason) => serverCloses.push({ code, reason: reason.toString() })),
    }),
    launchChromium(),
  ]);
  context = await browser.newContext({ viewport: { width: 1600, height: 1000 } });
});

afterAll(async () => {
  await context?.close().catch(() => {});
  await browser?.close();
  await ws?.close();
});

beforeEach(async () => {
  pageErrors = [];
  serverCloses = [];
  page = await context.newPage();
  page.on('pageerror', (error) => pageErrors.push(String(error)));
});

afterEach(async () => {
  await page.close();
  await expect.poll(() => ws.sockets.size, { timeout: 2_000, interval: 10 }).toBe(0);
  expect(pageErrors).toEqual([]);
});

function status(): Promise<InspectorStatus> {
  return page.evaluate(() => (window as WithStatus).__inspector as InspectorStatus);
}

/** Waits until the page has drawn the chart and shows `state` (the public path) highlighted. */
async function waitForShown(state: string): Promise<void> {
  await page.waitForFunction(
    (want) => {
      const s = (window as WithStatus).__inspector;
      return s?.ready === true && s.state === want && s.current.length > 0;
    },
    state,
    WAIT,
  );
}

/** The event log as the page shows it, oldest first. */
function logEntries(): Promise<Array<{ time: string; kind: string; state: string | undefined; text: string }>> {
  return page.$$eval('#log li', (items) =>
    items
      .map((li) => ({
        time: li.querySelector('time')?.textContent ?? '',
        kind: (li as HTMLElement).dataset.kind ?? '',
        state: (li as HTMLElement).dataset.state,
        text: li.querySelector('.text')?.textContent ?? '',
      }))
      .reverse(),
  );
}

/** GET with an explicit Host header (fetch won't send one of its own choosing). */
function statusFor(url: string, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { headers: { host } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.once('error', reject);
    req.end();
  });
}

describe('the chart the page draws', () => {
  it('has a Mermaid node id for every state, in the generator scheme', () => {
    const { mermaid, ids } = describeChart();
    const paths = describeMachine(connectionMachine).states.map((s) => s.path.join('.'));
    expect(Object.keys(ids).sort()).toEqual([...paths].sort());
    expect(ids['attempt.connecting.opening']).toBe('attempt_connecting_opening');
    expect(ids['reconnecting.backoff']).toBe('reconnecting_backoff');
    for (const id of Object.values(ids)) expect(mermaid).toContain(` as ${id}\n`);
  });

  it('lists every active state, all regions included, and the deepest ones as leaves', () => {
    const active = activePaths({ attempt: { open: { heartbeat: 'resting' } } });
    expect(active).toEqual(['attempt', 'attempt.open', 'attempt.open.heartbeat', 'attempt.open.heartbeat.resting']);
    expect(leafPaths(active)).toEqual(['attempt.open.heartbeat.resting']);
    expect(leafPaths(activePaths('closed'))).toEqual(['closed']);
    expect(leafPaths(activePaths({ reconnecting: 'backoff' }))).toEqual(['reconnecting.backoff']);
  });
});

describe('serveInspector in headless Chromium', () => {
  it('draws the chart, highlights the active state, and follows a drop through reconnecting back to open', async () => {
    // The first retry waits for the test (so the screenshot catches `reconnecting`), later ones wait the 50 ms backoff.
    let holdRetry = true;
    let release = () => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    const conn = createConnection(ws.url('/inspected'), {
      backoff: { initialDelay: 50, maxDelay: 100 },
      retryWait: (_retry, delay) => (holdRetry ? held : new Promise((resolve) => setTimeout(resolve, delay))),
    });
    const inspector = await serveInspector(conn);
    try {
      expect(inspector.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
      await conn.opened({ timeout: 4_000 });

      await page.goto(inspector.url);
      await waitForShown('open');
      const first = await status();
      expect(first.error).toBeNull();
      expect(first.missing).toEqual([]);
      expect(await page.locator('#diagram svg').count()).toBe(1);
      expect(await page.locator('#diagram svg g.node').count()).toBeGreaterThan(10);
      expect(await page.textContent('#state')).toBe('open');
      expect(await page.textContent('#url')).toBe(ws.url('/inspected'));
      // The heartbeat region runs inside `open`: its current state is the one marked, `open` is marked around it.
      expect(first.current).toEqual(['attempt_open_heartbeat_resting']);
      expect(await page.locator('#diagram g.sc-current').count()).toBe(1);
      expect(await page.locator('#diagram g.statediagram-cluster.sc-active[data-id="attempt_open"]').count()).toBe(1);
      await page.screenshot({ path: `${SHOTS}1-open.png` });

      ws.dropAll();
      await waitForShown('reconnecting.backoff');
      expect((await status()).current).toEqual(['reconnecting_backoff']);
      expect(await page.textContent('#state')).toBe('reconnecting.backoff');
      expect(await page.locator('#diagram g.sc-current[data-state-path="reconnecting.backoff"]').count()).toBe(1);
      await page.waitForFunction(() => document.querySelector('#log li[data-kind="reconnecting"]') !== null, undefined, WAIT);
      await page.screenshot({ path: `${SHOTS}2-reconnecting.png` });
      // At actual size the page scrolls the active state into view.
      await page.click('#zoom');
      await page.waitForFunction(() => {
        const node = document.querySelector('#diagram g.sc-current')?.getBoundingClientRect();
        const box = document.querySelector('#diagram')?.getBoundingClientRect();
        return !!node && !!box && node.left >= box.left && node.right <= box.right && node.top >= box.top && node.bottom <= box.bottom;
      }, undefined, WAIT);
      await page.screenshot({ path: `${SHOTS}2-reconnecting-actual-size.png` });
      await page.click('#zoom');

      holdRetry = false;
      release();
      await waitForShown('open');
      const log = await logEntries();
      const kinds = log.map((e) => `${e.kind}${e.state ? `:${e.state}` : ''}`);
      const lostAt = kinds.indexOf('statechange:reconnecting.backoff');
      expect(lostAt).toBeGreaterThan(kinds.indexOf('open'));
      expect(kinds.slice(lostAt)).toEqual(
        expect.arrayContaining(['statechange:connecting.opening', 'statechange:open', 'open']),
      );
      expect(kinds.lastIndexOf('statechange:open')).toBeGreaterThan(lostAt);
      expect(log.find((e) => e.kind === 'close')?.text).toMatch(/^Code: 1006/);
      expect(log.find((e) => e.kind === 'reconnecting')?.text).toMatch(/^retry 1 in \d+ ms$/);
      for (const entry of log) expect(entry.time).toMatch(/^\d\d:\d\d:\d\d\.\d{3}$/);
      await page.screenshot({ path: `${SHOTS}3-open-again.png` });

      // Once more at full speed (50 ms backoff): the page still shows every state it went through, in order.
      const before = (await status()).shown.length;
      ws.dropAll();
      await page.waitForFunction(
        (from) => {
          const shown = (window as WithStatus).__inspector?.shown.slice(from) ?? [];
          const lost = shown.findIndex((s) => s.state === 'reconnecting.backoff');
          return lost >= 0 && shown.slice(lost).some((s) => s.state === 'open');
        },
        before,
        WAIT,
      );
      const shown = (await status()).shown.slice(before).map((s) => s.current.join(','));
      expect(shown).toEqual(
        expect.arrayContaining(['reconnecting_backoff', 'attempt_connecting_opening', 'attempt_open_heartbeat_resting']),
      );
      expect(await page.textContent('#reconnects')).toBe('2');

      // Only loopback names reach it (a rebinding page elsewhere gets 421).
      expect(await statusFor(inspector.url, new URL(inspector.url).host)).toBe(200);
      expect(await statusFor(inspector.url, `localhost:${new URL(inspector.url).port}`)).toBe(200);
      expect(await statusFor(inspector.url, `attacker.example:${new URL(inspector.url).port}`)).toBe(421);
    } finally {
      release();
      await inspector.close();
    }

    // Closing ends the page's stream and the listening socket; the connection itself is the caller's.
    await page.waitForFunction(() => (window as WithStatus).__inspector?.live === false, undefined, WAIT);
    await expect(fetch(inspector.url)).rejects.toThrow();
    await inspector.close(); // idempotent
    expect(conn.state).toBe('open');
    conn.close();
    await expect.poll(() => conn.state, { timeout: 2_000, interval: 10 }).toBe('closed');
  });
});

describe('socketchart inspect <url> (spawned)', () => {
  let child: ChildProcess | undefined;
  afterEach(() => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });

  it('prints the page URL, serves the live view, and closes cleanly on SIGINT', async () => {
    child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'inspect', ws.url('/cli'), '--port', '0'], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const proc = child;
    let stdout = '';
    let stderr = '';
    proc.stdout?.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    proc.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));

    await expect.poll(() => /Inspector: (http:\/\/127\.0\.0\.1:\d+\/)/.exec(stdout)?.[1], { timeout: 8_000, interval: 20 }).toBeTruthy();
    const url = (/Inspector: (http:\/\/127\.0\.0\.1:\d+\/)/.exec(stdout) as RegExpExecArray)[1] as string;

    await page.goto(url);
    await waitForShown('open');
    expect(await page.textContent('#url')).toBe(ws.url('/cli'));
    await page.waitForFunction(() => document.querySelector('#log li[data-kind="open"]') !== null, undefined, WAIT);
    await expect.poll(() => stdout, { timeout: 2_000, interval: 20 }).toMatch(/OPEN - Ready to communicate/);

    proc.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(stderr).toBe('');
    expect(stdout).toMatch(/CLOSED - Code: 1000, Reason: inspector stopped/);
    expect(serverCloses).toContainEqual({ code: 1000, reason: 'inspector stopped' });
    await expect(fetch(url)).rejects.toThrow();
  });

  it('says what is wrong without a URL', async () => {
    const proc = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'inspect'], { cwd: ROOT });
    let stderr = '';
    proc.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const code = await new Promise<number | null>((resolve) => proc.once('exit', resolve));
    expect(code).toBe(2);
    expect(stderr).toMatch(/missing <url>/);
  });
});

describe('the React example (examples/react) in headless Chromium', () => {
  let http: Server | undefined;
  afterEach(async () => {
    if (http) {
      http.closeAllConnections();
      await new Promise<void>((resolve) => http?.close(() => resolve()));
    }
  });

  it('shows the status from useSelector(conn.actor, ...) and follows a drop', async () => {
    const bundle = await build({
      entryPoints: [fileURLToPath(new URL('../../examples/react/main.ts', import.meta.url))],
      absWorkingDir: ROOT,
      bundle: true,
      format: 'esm',
      platform: 'browser',
      target: 'chrome110',
      write: false,
      logLevel: 'silent',
      define: { 'process.env.NODE_ENV': '"production"' },
    });
    const script = bundle.outputFiles[0]?.text ?? '';
    const html = readFileSync(new URL('../../examples/react/index.html', import.meta.url), 'utf8');
    const server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      if (path === '/') res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(html);
      else if (path === '/main.ts') res.writeHead(200, { 'content-type': 'text/javascript' }).end(script);
      else res.writeHead(404).end();
    });
    http = server;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    const { port } = server.address() as AddressInfo;

    // Records every status the component rendered, so a short-lived one is not missed.
    await page.addInitScript(() => {
      const seen: string[] = [];
      (window as unknown as { statuses: string[] }).statuses = seen;
      new MutationObserver(() => {
        const status = document.querySelector<HTMLElement>('[data-status]')?.dataset.status;
        if (status && seen[seen.length - 1] !== status) seen.push(status);
      }).observe(document, { subtree: true, childList: true, attributes: true, attributeFilter: ['data-status'] });
    });
    await page.goto(`http://127.0.0.1:${port}/?url=${encodeURIComponent(ws.url('/react'))}`);
    await page.waitForFunction(() => document.querySelector<HTMLElement>('[data-status]')?.dataset.status === 'open', undefined, WAIT);
    expect(await page.textContent('[role="status"]')).toBe('open');
    expect(await page.textContent('.detail')).toBe('Ready to communicate');
    await page.screenshot({ path: `${SHOTS}4-react.png`, clip: { x: 0, y: 0, width: 600, height: 200 } });

    ws.dropAll();
    await page.waitForFunction(
      () => {
        const seen = (window as unknown as { statuses: string[] }).statuses;
        const lost = seen.lastIndexOf('reconnecting');
        return lost > 0 && seen.slice(lost).includes('open');
      },
      undefined,
      WAIT,
    );
    const seen = await page.evaluate(() => (window as unknown as { statuses: string[] }).statuses);
    // What React rendered after the drop: reconnecting, (connecting, if a render landed during the handshake,) open.
    const after = seen.slice(seen.indexOf('reconnecting'));
    expect(after[0]).toBe('reconnecting');
    expect(after[after.length - 1]).toBe('open');
    expect(after.every((s) => ['reconnecting', 'connecting', 'open'].includes(s))).toBe(true);
  });
});
