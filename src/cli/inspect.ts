import { parseArgs } from 'node:util';
import { serveInspector } from '../inspector/index.js';
import { logTransitions } from '../logTransitions.js';
import { createConnection } from '../node.js';
import type { Command } from './command.js';
import { EXIT_OK, UsageError } from './io.js';

const HELP = `Usage: socketchart inspect <url> [--port <port>] [--quiet]

Connects to <url> (ws:// or wss://) and serves a live view of the connection on http://127.0.0.1:<port>/:
the statechart drawn by Mermaid (from the installed package, no CDN), the active state highlighted as it
changes, and the event log with timestamps. Transitions are also printed here. Ctrl-C closes the connection
and the page's server.

Options:
  -p, --port <port>  port for the page (default: 0, any free port; the URL is printed)
  -q, --quiet        print only the page's URL, not the transitions
  -h, --help         show this help
`;

/** Resolves on the first SIGINT or SIGTERM; a second one exits at once. */
function stopRequested(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const first = (signal: NodeJS.Signals) => {
      process.off('SIGINT', first);
      process.off('SIGTERM', first);
      const force = () => process.exit(130);
      process.once('SIGINT', force);
      process.once('SIGTERM', force);
      resolve(signal);
    };
    process.on('SIGINT', first);
    process.on('SIGTERM', first);
  });
}

export const inspectCommand: Command = {
  name: 'inspect',
  summary: 'connect to a WebSocket URL and serve a live view of its statechart on 127.0.0.1',
  help: HELP,
  async run(args, io) {
    const { values, positionals } = parseArgs({
      args: [...args],
      options: {
        port: { type: 'string', short: 'p', default: '0' },
        quiet: { type: 'boolean', short: 'q', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      allowPositionals: true,
      strict: true,
    });
    if (values.help) {
      io.stdout(HELP);
      return EXIT_OK;
    }
    const [url, ...extra] = positionals;
    if (url === undefined) throw new UsageError('missing <url> (e.g. socketchart inspect ws://127.0.0.1:8080)');
    if (extra.length > 0) throw new UsageError(`unexpected argument '${extra[0]}'`);
    const port = Number(values.port);
    if (!/^\d+$/.test(values.port) || port > 65_535) throw new UsageError(`--port takes 0-65535; got '${values.port}'`);

    const conn = createConnection(url);
    const stopLog = values.quiet ? () => {} : logTransitions(conn, { write: (line) => io.stdout(`${line}\n`) });
    let inspector;
    try {
      inspector = await serveInspector(conn, { port });
    } catch (error) {
      stopLog();
      conn.close(1000, 'inspector failed');
      throw error;
    }
    const stop = stopRequested();
    io.stdout(`Inspector: ${inspector.url}\nWatching ${url}. Press Ctrl-C to stop.\n`);

    await stop;
    io.stdout('Stopping…\n');
    await inspector.close();
    if (conn.state !== 'closed') {
      const closed = new Promise<void>((resolve) => conn.addEventListener('close', (e) => e.closedBy && resolve()));
      conn.close(1000, 'inspector stopped');
      await closed;
    }
    stopLog();
    return EXIT_OK;
  },
};
