/**
 * Browser bundle size of each client: what a browser app adds by importing it. esbuild, platform browser, ESM,
 * minified, tree-shaken from a one-line entry that re-exports what an app would import; then gzip -9 (zlib).
 * Dependencies are bundled (xstate for socketchart). The bare WebSocket is the browser's own: 0 bytes.
 *
 * Two more rows, measured the same way, are floors rather than clients: `xstate floor` is the least any XState-based
 * client ships (`setup`, `createActor`, `fromCallback`), `connection machine` is socketchart's connection chart alone
 * (with the xstate it pulls in), without the runtime, options, queue and the rest around it.
 */
import { gzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import type { ClientKind } from './common.js';

/** The floor rows (see above): not clients, so the summary table leaves them out. */
export type BundleFloor = 'xstate floor' | 'connection machine';

/**
 * One row per message plug-in: `createConnection` plus that plug-in's import, so a plug-in's cost is its row minus
 * the `socketchart` row (the README's plug-in table). Not clients either: the summary table leaves them out.
 */
export type BundlePluginRow = `socketchart + ${'chunking' | 'batching' | 'requests' | 'schema' | 'router' | 'metrics' | 'jsonCodec' | 'every plug-in'}`;

const PLUGINS = ['chunking', 'batching', 'requests', 'schema', 'router', 'metrics'] as const;

export interface BundleSize {
  client: ClientKind | 'socketchart + atLeastOnce' | BundleFloor | BundlePluginRow;
  /** what the entry imports */
  entry: string;
  minBytes: number;
  gzipBytes: number;
  /** bytes of the minified output that come from xstate (from esbuild's metafile) */
  xstateMinBytes: number;
}

const repo = fileURLToPath(new URL('..', import.meta.url));

const ENTRIES: Array<{ client: BundleSize['client']; entry: string; code: string }> = [
  { client: 'reconnecting-websocket', entry: "import ReconnectingWebSocket from 'reconnecting-websocket'", code: "export { default } from 'reconnecting-websocket';" },
  { client: 'partysocket', entry: "import { WebSocket } from 'partysocket'", code: "export { WebSocket } from 'partysocket';" },
  { client: 'socket.io', entry: "import { io } from 'socket.io-client'", code: "export { io } from 'socket.io-client';" },
  { client: 'socketchart', entry: "import { createConnection } from 'socketchart' (src/index.ts)", code: "export { createConnection } from './src/index.ts';" },
  {
    client: 'socketchart + atLeastOnce',
    entry: "... plus import { atLeastOnce } from 'socketchart/delivery'",
    code: "export { createConnection } from './src/index.ts'; export { atLeastOnce } from './src/delivery/index.ts';",
  },
  ...PLUGINS.map((name) => ({
    client: `socketchart + ${name}` as const,
    entry: `... plus import { ${name} } from 'socketchart/${name}'`,
    code: `export { createConnection } from './src/index.ts'; export { ${name} } from './src/plugins/${name}.ts';`,
  })),
  {
    client: 'socketchart + jsonCodec',
    entry: "... plus import { jsonCodec } from 'socketchart'",
    code: "export { createConnection, jsonCodec } from './src/index.ts';",
  },
  {
    client: 'socketchart + every plug-in',
    entry: '... plus all six plug-ins and jsonCodec',
    code: `export { createConnection, jsonCodec } from './src/index.ts'; ${PLUGINS.map((name) => `export { ${name} } from './src/plugins/${name}.ts';`).join(' ')}`,
  },
  {
    client: 'xstate floor',
    entry: "import { setup, createActor, fromCallback } from 'xstate'",
    code: "export { setup, createActor, fromCallback } from 'xstate';",
  },
  { client: 'connection machine', entry: "import { connectionMachine } (machines/connection.ts)", code: "export { connectionMachine } from './machines/connection.ts';" },
];

export async function measureBundles(): Promise<BundleSize[]> {
  const sizes: BundleSize[] = [{ client: 'ws', entry: 'the browser WebSocket', minBytes: 0, gzipBytes: 0, xstateMinBytes: 0 }];
  for (const { client, entry, code } of ENTRIES) {
    const result = await build({
      stdin: { contents: code, resolveDir: repo, sourcefile: 'entry.ts', loader: 'ts' },
      bundle: true,
      write: false,
      platform: 'browser',
      format: 'esm',
      target: 'es2020',
      minify: true, // with platform browser, also defines process.env.NODE_ENV as "production"
      treeShaking: true,
      legalComments: 'none',
      logLevel: 'error',
      metafile: true,
    });
    const output = result.outputFiles[0];
    if (!output) throw new Error(`no output for ${client}`);
    let xstateMinBytes = 0;
    for (const out of Object.values(result.metafile.outputs)) {
      for (const [input, { bytesInOutput }] of Object.entries(out.inputs)) {
        if (input.includes('node_modules/xstate/')) xstateMinBytes += bytesInOutput;
      }
    }
    sizes.push({ client, entry, minBytes: output.contents.byteLength, gzipBytes: gzipSync(output.contents, { level: 9 }).byteLength, xstateMinBytes });
  }
  return sizes;
}
