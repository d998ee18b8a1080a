/**
 * Bundles a page module for the browser (esbuild, as an app's bundler would), loads it into an empty page in
 * headless Chromium and returns what its exported `run()` resolves to.
 */
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { launchChromium } from '../status-indicator/main.js';

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
  const browser = await launchChromium();
  try {
    const page = await browser.newPage();
    await page.setContent('<div id="root"></div>');
    await page.addScriptTag({ content: bundle.outputFiles[0]!.text });
    return (await page.evaluate('pageModule.run()')) as T;
  } finally {
    await browser.close();
  }
}
