import { type SocketchartPage, serveSocketchartPage } from './socketchartPage.js';

/**
 * Like serveSocketchartPage, but the global `socketchart` also carries what the shared-connection tests pass in
 * options: `atLeastOnce` (socketchart/delivery) and `requests` (socketchart/requests).
 */
export function serveSharedPage(html: string): Promise<SocketchartPage> {
  return serveSocketchartPage(html, [
    "export { atLeastOnce } from './src/delivery/index.ts';",
    "export { requests } from './src/plugins/requests.ts';",
  ]);
}
