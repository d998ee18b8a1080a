/**
 * Bundles a page module for the browser (esbuild, as an app's bundler would), loads it into an empty page in
 * headless Chromium and returns what its exported `run()` resolves to.
 */
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { chromium } from 'playwright-core';

/** Headless, and quiet: without the background-networking flags Chromium calls out to the network. */
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'];

export async function runInChromium<T>(entry: URL): Promise<T> {
  const bundle = await build({
    entryPoints: [fileURLToPath(entry)],
    bundle: true,
    format: 'iife',
    globalName: 'pageModule',
    write: false,
    logLevel: 'silent',
    define: { 'process.env.NODE_ENV': '"production"' },
  });
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: ARGS, timeout: 10_000 });
  try {
    const page = await browser.newPage();
    await page.setContent('<div id="root"></div>');
    await page.addScriptTag({ content: bundle.outputFiles[0]!.text });
    return (await page.evaluate('pageModule.run()')) as T;
  } finally {
    await browser.close();
  }
}
