import { existsSync } from 'node:fs';
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import type { SocketchartPage } from './socketchartPage.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * Like serveSocketchartPage, but the global `socketchart` also carries what the shared-connection tests pass in
 * options: `atLeastOnce` (socketchart/delivery) and, once request/response is a plug-in (src/plugins/requests.ts),
 * `requests` (socketchart/requests); before that, `request()` needs no plug-in and `socketchart.requests` is absent.
 */
export async function serveSharedPage(html: string): Promise<SocketchartPage> {
  const lines = ["export * from './src/index.ts';", "export { atLeastOnce } from './src/delivery/index.ts';"];
  if (existsSync(`${ROOT}src/plugins/requests.ts`)) lines.push("export { requests } from './src/plugins/requests.ts';");
  const bundle = await build({
    stdin: { contents: lines.join('\n'), resolveDir: ROOT, sourcefile: 'shared-entry.ts', loader: 'ts' },
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
