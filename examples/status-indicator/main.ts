/**
 * Status indicator: the connection lifecycle lesson's hands-on exercise, in a browser page, on socketchart.
 *
 * `npx tsx examples/status-indicator/main.ts` plays the exercise's script in headless Chromium (Debian's
 * `chromium`, driven by playwright-core): wait for OPEN, send two messages, click Disconnect, click Reconnect,
 * let the server drop the connection, and watch it come back by itself. It prints the page's event log and saves a
 * screenshot. With `--serve` it only serves the page, for you to open in your own browser.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, type Page, chromium } from 'playwright-core';
import { startStatusIndicatorServer } from './server.js';

export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'];

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: CHROMIUM_ARGS, timeout: 10_000 });
}

/** What the page shows, read from its DOM. */
export async function readPage(page: Page) {
  // No named functions inside: tsx would wrap them in a helper the page does not have.
  const [color, label, state, uptime, sent, received, reconnects, log, timeline] = await page.evaluate(() => [
    ...['indicator', 'status-label', 'status-detail', 'uptime', 'sent', 'received', 'reconnects'].map((id) =>
      id === 'indicator' ? (document.getElementById(id)?.dataset.color ?? '') : (document.getElementById(id)?.textContent ?? ''),
    ),
    [...document.querySelectorAll('#log div')].map((line) => line.textContent).join('\n'),
    [...document.querySelectorAll<HTMLElement>('#timeline span')].map((s) => s.dataset.color ?? '').join(' '),
  ]);
  return {
    color,
    label,
    state,
    /** `m:ss` of the current connection (`conn.metrics.uptime`); `0:00` whenever it is not open. */
    uptime: uptime ?? '',
    sent: Number(sent),
    received: Number(received),
    reconnects: Number(reconnects),
    timeline: (timeline ?? '').split(' '),
    log: (log ?? '').split('\n'),
  };
}

/** Waits until the indicator shows `color`. */
export function indicator(page: Page, color: 'green' | 'yellow' | 'red') {
  return page.waitForSelector(`#indicator[data-color="${color}"]`, { timeout: 5_000 });
}

/** The scripted scenario, in headless Chromium (or in `browser`, if given). */
export async function run(log: (line: string) => void = console.log, options: { browser?: Browser; screenshot?: string } = {}) {
  const server = await startStatusIndicatorServer();
  const browser = options.browser ?? (await launchChromium());
  const page = await browser.newPage({ viewport: { width: 800, height: 640 } });
  try {
    await page.goto(server.url);
    await indicator(page, 'green');
    for (let i = 1; i <= 2; i++) {
      await page.fill('#message', `hello ${i}`);
      await page.click('#send');
    }
    await page.waitForFunction(() => document.getElementById('received')?.textContent === '2');
    await page.click('#disconnect');
    await page.waitForSelector('#status-label:text("CLOSED")');
    await page.click('#reconnect');
    await indicator(page, 'green');
    server.dropAll();
    await page.waitForFunction(() => document.getElementById('reconnects')?.textContent === '2', undefined, { timeout: 5_000 });
    await indicator(page, 'green');
    if (options.screenshot) {
      mkdirSync(dirname(options.screenshot), { recursive: true });
      await page.screenshot({ path: options.screenshot });
    }
    const shown = await readPage(page);
    for (const line of shown.log) log(line);
    log(`indicator ${shown.color}, sent ${shown.sent}, received ${shown.received}, reconnects ${shown.reconnects}`);
    log(`timeline: ${shown.timeline.join(' -> ')}`);
    return shown;
  } finally {
    await page.close();
    if (!options.browser) await browser.close();
    await server.close();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  if (process.argv.includes('--serve')) {
    const server = await startStatusIndicatorServer(Number(process.env.PORT ?? 0));
    console.log(`status indicator: open ${server.url} (Ctrl-C to stop)`);
  } else {
    const screenshot = fileURLToPath(new URL('../../test-output/examples/status-indicator.png', import.meta.url));
    await run(console.log, { screenshot });
    console.log(`screenshot: ${screenshot}`);
  }
}
