import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** A page on 127.0.0.1 that loads the browser core as the global `socketchart` (from /socketchart.js). */
export interface SocketchartPage {
  url: string;
  close(): Promise<void>;
}

/**
 * Bundles src/index.ts for Chromium (as an app's bundler would) and serves it beside `html` on port 0.
 * `alsoExport` adds export lines to the global (paths relative to the repo root), e.g. a plug-in's entry.
 */
export async function serveSocketchartPage(html: string, alsoExport: readonly string[] = []): Promise<SocketchartPage> {
  const entry = ["export * from './src/index.ts';", ...alsoExport].join('\n');
  const bundle = await build({
    stdin: { contents: entry, resolveDir: ROOT, sourcefile: 'socketchart-entry.ts', loader: 'ts' },
    absWorkingDir: ROOT,
    bundle: true,
    format: 'iife',
    globalName: 'socketchart',
    platform: 'browser',
    target: 'chrome110',
    write: false,
    logLevel: 'silent',
    define: { 'process.env.NODE_ENV': '"production"' },
  });
  const script = bundle.outputFiles[0]?.text ?? '';
  const http: Server = createServer((req, res) => {
    if (req.url === '/') res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(html);
    else if (req.url === '/socketchart.js') res.writeHead(200, { 'content-type': 'text/javascript' }).end(script);
    else res.writeHead(404).end();
  });
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(0, '127.0.0.1', () => resolve());
  });
  return {
    url: `http://127.0.0.1:${(http.address() as AddressInfo).port}/`,
    close: () => {
      http.closeAllConnections();
      return new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}
