/**
 * The status indicator's own small server: the page, the page script bundled with the library (esbuild, in
 * memory), and a WebSocket echo endpoint on /ws, all on one port on 127.0.0.1. `POST /drop` (the page's "Server
 * drop" button) and `dropAll()` kill every WebSocket without a close frame.
 */
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { WebSocketServer } from 'ws';

export async function startStatusIndicatorServer(port = 0) {
  const [bundle, html] = await Promise.all([
    build({
      entryPoints: [fileURLToPath(new URL('./app.ts', import.meta.url))],
      bundle: true,
      format: 'iife',
      platform: 'browser',
      target: 'chrome110',
      write: false,
      logLevel: 'silent',
    }),
    readFile(new URL('./index.html', import.meta.url), 'utf8'),
  ]);
  const script = bundle.outputFiles[0]?.text ?? '';

  const http = createServer((req, res) => {
    if (req.url === '/') res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(html);
    else if (req.url === '/app.js') res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8' }).end(script);
    else if (req.url === '/drop' && req.method === 'POST') {
      dropAll();
      res.writeHead(204).end();
    } else res.writeHead(404).end();
  });
  const wss = new WebSocketServer({ server: http, path: '/ws' });
  wss.on('connection', (socket) => socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary })));
  const dropAll = () => wss.clients.forEach((socket) => socket.terminate());

  await new Promise<void>((resolve) => http.listen(port, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(http.address() as AddressInfo).port}/`,
    /** Kill every WebSocket without a close frame: the page's connection sees 1006 and reconnects. */
    dropAll,
    async close() {
      dropAll();
      wss.close();
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}
