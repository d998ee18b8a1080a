/**
 * What a follower tab pays for sharing the leader's socket (`createSharedConnection`, issue 14): the round trip of
 * one message sent from a tab to a `ws` echo server and back to that tab, sequentially (one in flight), from the
 * leader tab (its own socket) and from a follower tab (the send crosses BroadcastChannel to the leader, the echo
 * crosses it back).
 *
 * Headless Chromium (/usr/bin/chromium or CHROMIUM_PATH, via playwright-core), two pages of one browser context (so
 * they share Web Locks and BroadcastChannel, as two tabs of one origin do) against a `ws` echo server on 127.0.0.1,
 * in this process (it only echoes; the loops run in the pages). Each run is a fresh context: the first page leads,
 * the second follows; after WARMUP echoes each, ECHOES echoes from one tab, then ECHOES from the other (which goes
 * first alternates per run). Per run and tab: the median round trip and the mean (the loop's total over ECHOES: a
 * page's `performance.now()` is coarsened to 0.1 ms outside cross-origin isolation, so the median comes in steps of
 * 0.1 ms while the mean does not).
 *
 * Run: `npx tsx bench/shared.ts` (RUNS, ECHOES, WARMUP override the defaults). Prints a table and, with --json, one
 * JSON line (bench/run.ts runs it as its `shared` phase).
 */
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import type { Page } from 'playwright-core';
import { WebSocketServer } from 'ws';
import { launchChromium } from '../test/support/chromium.js';
import { serveSharedPage } from '../test/support/sharedPage.js';
import type * as Socketchart from '../src/index.js';
import { median, quantile } from './common.js';

const RUNS = Number(process.env.RUNS ?? 5);
const ECHOES = Number(process.env.ECHOES ?? 500);
const WARMUP = Number(process.env.WARMUP ?? 100);

const PAGE_HTML = `<!doctype html><html><head><meta charset="utf-8"><title>shared bench</title></head>
<body><script src="/socketchart.js"></script></body></html>`;

interface PageGlobals {
  socketchart: typeof Socketchart;
  conn: Socketchart.SharedConnection<unknown, unknown>;
}

export interface SharedTabFigures {
  /** Per run: the median round trip, ms. */
  medianMs: number[];
  /** Per run: the mean round trip (the loop's total / echoes), ms. */
  meanMs: number[];
  /** Per run: the 90th percentile, ms. */
  p90Ms: number[];
}

export interface SharedResult {
  runs: number;
  echoes: number;
  warmup: number;
  /** Whether the pages had fine timers (cross-origin isolated): if not, medians come in 0.1 ms steps. */
  fineTimers: boolean;
  leader: SharedTabFigures;
  follower: SharedTabFigures;
  /** Median over the runs of each run's figure, ms. */
  leaderMedianMs: number;
  followerMedianMs: number;
  leaderMeanMs: number;
  followerMeanMs: number;
  /** Median over the runs of (follower mean - leader mean) in the same run, ms: what going through the leader costs. */
  addedMeanMs: number;
}

/** `count` sequential echoes from the page's tab; the round trips in ms, and the loop's total. */
function echoes(page: Page, count: number, tag: string): Promise<{ times: number[]; totalMs: number; fine: boolean }> {
  return page.evaluate(
    async ({ count, tag }) => {
      const { conn } = window as unknown as PageGlobals;
      const times: number[] = [];
      const start = performance.now();
      for (let i = 0; i < count; i++) {
        const text = `${tag}:${i}`;
        const t0 = performance.now();
        // One in flight: the next message is its echo. (No named function in here: tsx would wrap it in __name.)
        await new Promise<void>((resolve, reject) => {
          conn.addEventListener('message', (e) => (e.data === text ? resolve() : reject(new Error(`expected ${text}, got ${String(e.data)}`))), { once: true });
          conn.send(text);
        });
        times.push(performance.now() - t0);
      }
      return { times, totalMs: performance.now() - start, fine: globalThis.crossOriginIsolated === true };
    },
    { count, tag },
  );
}

async function openTab(context: Awaited<ReturnType<Awaited<ReturnType<typeof launchChromium>>['newContext']>>, pageUrl: string, url: string, name: string): Promise<Page> {
  const page = await context.newPage();
  await page.goto(pageUrl);
  await page.waitForFunction(() => typeof (window as unknown as PageGlobals).socketchart === 'object');
  await page.evaluate(
    ({ url, name }) => {
      const w = window as unknown as PageGlobals;
      w.conn = w.socketchart.createSharedConnection<unknown, unknown>(url, { name });
    },
    { url, name },
  );
  await page.waitForFunction(() => (window as unknown as PageGlobals).conn.state === 'open');
  return page;
}

async function measureShared(): Promise<SharedResult> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await once(wss, 'listening');
  let sockets = 0;
  wss.on('connection', (socket) => {
    sockets++;
    socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary }));
  });
  const url = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/`;
  const [http, browser] = await Promise.all([serveSharedPage(PAGE_HTML), launchChromium()]);
  const figures = { leader: { medianMs: [], meanMs: [], p90Ms: [] } as SharedTabFigures, follower: { medianMs: [], meanMs: [], p90Ms: [] } as SharedTabFigures };
  let fineTimers = true;
  try {
    for (let run = 0; run < RUNS; run++) {
      const context = await browser.newContext();
      try {
        const before = sockets;
        const name = `bench-shared-${run}`;
        const leader = await openTab(context, http.url, url, name);
        const follower = await openTab(context, http.url, url, name);
        const roles = await Promise.all([leader, follower].map((page) => page.evaluate(() => (window as unknown as PageGlobals).conn.role)));
        if (roles[0] !== 'leader' || roles[1] !== 'follower' || sockets !== before + 1) {
          throw new Error(`run ${run + 1}: expected one socket, a leader and a follower; got ${sockets - before} socket(s), roles ${roles.join(', ')}`);
        }
        const tabs = { leader, follower };
        for (const role of ['leader', 'follower'] as const) await echoes(tabs[role], WARMUP, `warm-${role}`);
        // Which tab goes first alternates, so a drift of the machine within a run hits both alike.
        const order = run % 2 === 0 ? (['leader', 'follower'] as const) : (['follower', 'leader'] as const);
        for (const role of order) {
          const { times, totalMs, fine } = await echoes(tabs[role], ECHOES, role);
          fineTimers &&= fine;
          figures[role].medianMs.push(median(times));
          figures[role].p90Ms.push(quantile(times, 0.9));
          figures[role].meanMs.push(totalMs / ECHOES);
        }
        process.stderr.write(
          `  shared run ${run + 1}/${RUNS}: leader ${(figures.leader.medianMs.at(-1) as number).toFixed(2)} ms, follower ${(figures.follower.medianMs.at(-1) as number).toFixed(2)} ms (median of ${ECHOES})\n`,
        );
      } finally {
        await context.close();
      }
    }
  } finally {
    await browser.close();
    await http.close();
    for (const socket of wss.clients) socket.terminate();
    await new Promise((resolve) => wss.close(resolve));
  }
  return {
    runs: RUNS,
    echoes: ECHOES,
    warmup: WARMUP,
    fineTimers,
    ...figures,
    leaderMedianMs: median(figures.leader.medianMs),
    followerMedianMs: median(figures.follower.medianMs),
    leaderMeanMs: median(figures.leader.meanMs),
    followerMeanMs: median(figures.follower.meanMs),
    addedMeanMs: median(figures.follower.meanMs.map((mean, i) => mean - (figures.leader.meanMs[i] as number))),
  };
}

{
  const result = await measureShared();
  const ms = (values: number[]) => values.map((v) => v.toFixed(2)).join(', ');
  console.log(`echo round trip, ${result.runs} runs of ${result.echoes} sequential echoes (ms; median per run, then mean per run):`);
  console.log(`  leader:   medians ${ms(result.leader.medianMs)}; means ${ms(result.leader.meanMs)}`);
  console.log(`  follower: medians ${ms(result.follower.medianMs)}; means ${ms(result.follower.meanMs)}`);
  console.log(`  follower - leader (mean, same run): ${result.addedMeanMs.toFixed(2)} ms${result.fineTimers ? '' : ' (page timers coarsened to 0.1 ms: medians in 0.1 ms steps)'}`);
  if (process.argv.includes('--json')) console.log(JSON.stringify({ date: new Date().toISOString(), ...result }));
}
