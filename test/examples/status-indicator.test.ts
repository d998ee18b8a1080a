/**
 * The status indicator page in real headless Chromium, driven through its buttons like a user; a server-side
 * drop in the middle. No sleeps: every step waits for what the page shows.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { indicator, launchChromium, readPage, run } from '../../examples/status-indicator/main.js';
import { startStatusIndicatorServer } from '../../examples/status-indicator/server.js';

const SCREENSHOT = fileURLToPath(new URL('../../test-output/examples/status-indicator.png', import.meta.url));
const LINE = /^\[\d\d:\d\d:\d\d\] (🟢|🟡|🔴) (.*)$/u;
/** The uptime display: `m:ss` of the current connection, from `conn.metrics.uptime`. */
const UPTIME = /^\d+:[0-5]\d$/;
const seconds = (uptime: string) => {
  const [m = '', s = ''] = uptime.split(':');
  return Number(m) * 60 + Number(s);
};

let browser: Browser;
let server: Awaited<ReturnType<typeof startStatusIndicatorServer>>;
let page: Page;
const pageErrors: string[] = [];

beforeAll(async () => {
  mkdirSync(dirname(SCREENSHOT), { recursive: true });
  [browser, server] = await Promise.all([launchChromium(), startStatusIndicatorServer()]);
  page = await browser.newPage({ viewport: { width: 800, height: 640 } });
  page.on('pageerror', (error) => pageErrors.push(String(error)));
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

/** The log as [emoji, text] pairs. */
async function logLines(): Promise<Array<[string, string]>> {
  return (await readPage(page)).log.map((line) => {
    const match = LINE.exec(line);
    return match ? [match[1] ?? '', match[2] ?? ''] : ['?', line];
  });
}

it('status indicator: green when open, red after Disconnect, green after Reconnect and after a server drop', { timeout: 20_000 }, async () => {
  await page.goto(server.url);
  await indicator(page, 'green');
  expect(await readPage(page)).toMatchObject({ color: 'green', label: 'OPEN', state: 'chart: open', sent: 0, received: 0 });
  expect((await logLines()).slice(0, 2)).toEqual([
    ['🟡', 'CONNECTING'],
    ['🟢', 'OPEN - Ready to communicate'],
  ]);

  // Uptime (bonus 2) counts the current connection's open time, redrawn every 250 ms: it advances while open.
  expect((await readPage(page)).uptime).toMatch(UPTIME);
  await page.waitForFunction(() => document.getElementById('uptime')?.textContent === '0:02', undefined, { timeout: 5_000 });

  // Counts (bonus 3) come from conn.metrics and grow with each echo.
  for (const n of [1, 2]) {
    await page.fill('#message', `count ${n}`);
    await page.click('#send');
    await page.waitForFunction((n) => document.getElementById('received')?.textContent === String(n), n);
  }
  expect(await readPage(page)).toMatchObject({ sent: 2, received: 2 });

  await page.click('#disconnect');
  await indicator(page, 'red');
  await page.waitForSelector('#status-label:text("CLOSED")');
  expect((await logLines()).slice(-3)).toEqual([
    ['🟢', '(user clicks disconnect)'],
    ['🔴', 'CLOSING'],
    ['🔴', 'CLOSED - Code: 1000, Reason: User disconnect'],
  ]);
  // Not open: no current connection, so the uptime reads zero.
  await page.waitForFunction(() => document.getElementById('uptime')?.textContent === '0:00', undefined, { timeout: 2_000 });

  await page.click('#reconnect');
  await indicator(page, 'green');
  // A new connection: its uptime starts again from zero instead of going on from the first one's 0:02.
  const reopened = (await readPage(page)).uptime;
  expect(reopened).toMatch(UPTIME);
  expect(seconds(reopened)).toBeLessThan(2);
  expect((await logLines()).slice(-3)).toEqual([
    ['🔴', '(user clicks reconnect)'],
    ['🟡', 'CONNECTING'],
    ['🟢', 'OPEN - Ready to communicate'],
  ]);

  // A drop on the server side: yellow while it reconnects by itself (bonus 1), then green.
  server.dropAll();
  await page.waitForFunction(() => document.getElementById('reconnects')?.textContent === '2', undefined, { timeout: 5_000 });
  await indicator(page, 'green');
  const shown = await readPage(page);
  expect(shown.timeline).toEqual(['yellow', 'green', 'red', 'yellow', 'green', 'yellow', 'green']);
  const tail = (await logLines()).slice(-4);
  expect(tail[0]).toEqual(['🔴', 'CLOSED - Code: 1006, Reason: No reason provided']);
  expect(tail[1]?.[0]).toBe('🟡');
  expect(tail[1]?.[1]).toMatch(/^RECONNECTING - attempt 1 in \d+ ms$/);
  expect(tail.slice(2)).toEqual([
    ['🟡', 'CONNECTING'],
    ['🟢', 'OPEN - Ready to communicate'],
  ]);

  // Sending still counts after the reconnects.
  await page.click('#send');
  await page.waitForFunction(() => document.getElementById('received')?.textContent === '3');
  expect(await readPage(page)).toMatchObject({ color: 'green', sent: 3, received: 3, reconnects: 2, uptime: expect.stringMatching(UPTIME) });
  await page.screenshot({ path: SCREENSHOT });
  expect(pageErrors).toEqual([]);
});

it('status indicator: the scripted demo (main.ts) plays the exercise to the end', { timeout: 20_000 }, async () => {
  const lines: string[] = [];
  const shown = await run((line) => lines.push(line), { browser });
  expect(shown).toMatchObject({ color: 'green', label: 'OPEN', sent: 2, received: 2, reconnects: 2, uptime: expect.stringMatching(UPTIME) });
  expect(lines.some((l) => l.endsWith('CLOSED - Code: 1000, Reason: User disconnect'))).toBe(true);
  expect(lines.at(-1)).toBe('timeline: yellow -> green -> red -> yellow -> green -> yellow -> green');
});
