/** examples/react's ConnectionStatus at every step of every path of the connection chart, in headless Chromium. */
import { expect, it } from 'vitest';
import type { run } from './everyPath.page.js';
import { runInChromium } from './runInChromium.js';

it('shows the right status and buttons at every step of every generated path', async () => {
  const result = await runInChromium<Awaited<ReturnType<typeof run>>>(new URL('./everyPath.page.ts', import.meta.url));
  expect(result.failures).toEqual([]);
  expect(result.paths).toBeGreaterThan(900); // every variant, shortest and simple paths
  expect(result.steps).toBeGreaterThan(4000);
}, 60_000);
