/**
 * What a newcomer following README.md ran into (the newuser review of 2026-12-06): each README statement here is
 * checked against the code or the behaviour it describes, and the messages a newcomer saw say the right thing.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { createActor, setup, SimulatedClock } from 'xstate';
import { describe, expect, it } from 'vitest';
import { connectionLogic, createConnection, createPool, isSocketchartError } from '../../src/index.js';
import { describe as describeValue } from '../../src/errors.js';
import { metrics } from '../../src/plugins/metrics.js';
import { resolveHeartbeat } from '../../src/policies/heartbeat.js';
import { connectionPaths, replayPath } from '../../src/testing/index.js';
import { createMemoryTransport } from '../../src/transports/memory.js';
import { badge } from '../../examples/replay-function/badge.js';

const text = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8');
const readme = text('README.md');
const pkg = JSON.parse(text('package.json')) as { exports: Record<string, unknown>; peerDependencies: Record<string, string> };

/** The README section under `heading` (up to the next heading of any level). */
function section(heading: string): string {
  const start = readme.indexOf(`${heading}\n`);
  if (start < 0) throw new Error(`README has no "${heading}"`);
  const rest = readme.slice(start + heading.length + 1);
  const end = rest.search(/^#{1,4} /m);
  return end < 0 ? rest : rest.slice(0, end);
}

/** The paragraph of the README that starts with `start`. */
function paragraph(start: string): string {
  const at = readme.indexOf(start);
  if (at < 0) throw new Error(`README has no paragraph starting "${start}"`);
  return readme.slice(at, readme.indexOf('\n\n', at));
}

const settle = () => new Promise<void>((resolve) => setImmediate(resolve));
const hasGlobalWebSocket = typeof (globalThis as { WebSocket?: unknown }).WebSocket === 'function';

describe('README: ws version', () => {
  it('names the peer range of package.json as the minimum, and no older ws anywhere', () => {
    const range = pkg.peerDependencies.ws!;
    const minimum = /^\^(\d+)\.(\d+)\.\d+$/.exec(range);
    expect(minimum, `peerDependencies.ws ${range}`).not.toBeNull();
    expect(section('## Transports')).toContain(`the \`ws\` package (a peer dependency, \`${range}\``);
    const floor = Number(minimum![1]) * 1000 + Number(minimum![2]);
    for (const m of readme.matchAll(/\bws\s*(?:>=|@)\s*(\d+)\.(\d+)/g)) {
      expect(Number(m[1]) * 1000 + Number(m[2]), `README says "${m[0]}"`).toBeGreaterThanOrEqual(floor);
    }
  });
});

describe('ERR_NO_TRANSPORT names the entry to import from, not one function', () => {
  const expectNamesEntry = (error: unknown) => {
    expect(isSocketchartError(error, 'ERR_NO_TRANSPORT')).toBe(true);
    const message = (error as Error).message;
    expect(message).toContain('"socketchart/node"');
    // The same message serves createConnection, createPool and connectionLogic: it must not name one of them.
    expect(message).not.toMatch(/createConnection|createPool|connectionLogic/);
  };

  it.skipIf(hasGlobalWebSocket)('createPool from socketchart in Node 20', () => {
    let error: unknown;
    try {
      createPool('ws://127.0.0.1:1/', { size: 1 });
    } catch (e) {
      error = e;
    }
    expectNamesEntry(error);
  });

  it.skipIf(hasGlobalWebSocket)('connectionLogic from socketchart in Node 20 (the invoke’s onError)', () => {
    let error: unknown;
    const machine = setup({ actors: { connection: connectionLogic } }).createMachine({
      initial: 'on',
      states: {
        on: { invoke: { src: 'connection', input: { url: 'ws://127.0.0.1:1/' }, onError: { target: 'failed', actions: ({ event }) => (error = event.error) } } },
        failed: {},
      },
    });
    const actor = createActor(machine).start();
    expect(actor.getSnapshot().value).toBe('failed');
    expectNamesEntry(error);
    actor.stop();
  });
});

describe("README: the connectionLogic example", () => {
  const snippet = /```ts\n(import \{[^\n]*\} from 'xstate';[\s\S]*?)```/.exec(section('### Embedding the connection in your own machine'))?.[1] ?? '';

  it('says where Node imports it from, and uses every name it imports', () => {
    expect(snippet).toMatch(/from 'socketchart'; \/\/ in Node: from 'socketchart\/node'/);
    const imports = [...snippet.matchAll(/^import \{([^}]*)\}/gm)].flatMap((m) => m[1]!.split(',').map((name) => name.replace(/\btype\b/, '').trim()));
    expect(imports.length).toBeGreaterThan(3);
    const body = snippet.replace(/^import .*$/gm, '');
    expect(imports.filter((name) => !new RegExp(`\\b${name}\\b`).test(body))).toEqual([]);
  });

  it("does not swallow the child's error in onError", () => {
    expect(snippet).not.toMatch(/onError: '[^']*'/);
    expect(snippet).toMatch(/onError: \{[^\n]*console\.error\(event\.error\)/);
  });
});

describe('README: what npm test needs', () => {
  it('installs what .ci/run installs, and names the REDIS_SERVER override the Redis tests read', () => {
    const ci = /apt-get install -y ([^\n]+)/.exec(text('.ci/run'))![1]!.trim().split(/\s+/);
    const line = /`apt-get install -y ([^`]+)`/.exec(readme)![1]!.split(/\s+/);
    expect([...line].sort()).toEqual([...ci].sort());
    expect(text('test/server/redisServer.ts')).toContain('process.env.REDIS_SERVER');
    expect(paragraph('`npm start` runs')).toContain('`REDIS_SERVER`');
  });
});

describe('README: "In an app"', () => {
  const inAnApp = paragraph('In an app:');

  it('lists every entry of package.json exports', () => {
    const entries = Object.keys(pkg.exports).filter((key) => key !== './package.json').map((key) => `socketchart${key.slice(1)}`);
    expect(entries.length).toBeGreaterThan(10);
    expect(entries.filter((entry) => !inAnApp.includes(`\`${entry}\``))).toEqual([]);
  });

  it("states the TypeScript moduleResolution the subpath entries need (node10 cannot resolve exports)", () => {
    expect(inAnApp).toMatch(/`moduleResolution`[^.]*`node16`[^.]*`nodenext`[^.]*`bundler`/);
  });
});

describe('missing plug-ins', () => {
  it('on() throws and request() rejects, both ERR_PLUGIN_MISSING, as the README and the option docs say', async () => {
    const conn = createConnection('ws://example.test/', { transport: createMemoryTransport().transport, startClosed: true });
    expect(() => conn.on('x' as never, () => {})).toThrow(expect.objectContaining({ code: 'ERR_PLUGIN_MISSING' }));
    let result: Promise<unknown> | undefined;
    expect(() => (result = conn.request('x'))).not.toThrow();
    await expect(result).rejects.toMatchObject({ code: 'ERR_PLUGIN_MISSING' });
    conn.close();

    expect(readme).toMatch(/`on\(\)`[^.]*throws[^.]*`request\(\)`[^.]*rejects[^.]*`ERR_PLUGIN_MISSING`/);
    const options = text('src/options.ts');
    for (const option of ['router', 'requests']) {
      const doc = new RegExp(`/\\*\\*((?:(?!\\*/)[\\s\\S])*)\\*/\\n  ${option}\\?:`).exec(options)?.[1] ?? '';
      expect(doc, `the JSDoc of ConnectionOptions.${option}`).toContain('ERR_PLUGIN_MISSING');
      expect(doc, `the JSDoc of ConnectionOptions.${option}`).not.toContain('ERR_INVALID_OPTION');
    }
  });
});

describe('README: options table', () => {
  it("gives heartbeat.ping's default as the function it is", () => {
    const row = /^\| `heartbeat\.ping` \| (.+?) \|/m.exec(readme)?.[1];
    expect(row).toBe("`() => '{\"type\":\"ping\"}'`");
    const resolved = resolveHeartbeat({ mode: 'message' }, createMemoryTransport().transport);
    expect(resolved?.ping()).toBe('{"type":"ping"}');
  });
});

describe('README: shell lines copy as they are', () => {
  it('has no `--format mermaid|dot` (a shell pipe into dot when pasted)', () => {
    expect(readme).not.toMatch(/mermaid\|dot/);
  });
});

describe('README: Status and Benchmarks', () => {
  it('Status leaves the measured figures of the targets to the Benchmarks table', () => {
    const targets = /^- [^\n]*targets?[^\n]*\n( {2}[^\n]*\n)*/m.exec(section('## Status'))?.[0] ?? '';
    expect(targets).toContain('Benchmarks table');
    expect(targets).not.toMatch(/about \d/);
  });

  it('the "what is next" paragraph does not list as next what Plug-ins and Pool say is done', () => {
    const why = paragraph('**Why the heap and bundle targets are still missed');
    expect(why).not.toMatch(/(left|next)[^.]*metrics as a plug-in/i);
    expect(why).not.toMatch(/(left|next)[^.]*one parent actor/i);
  });
});

describe('metrics: the per-second figures', () => {
  it('count the last full second of the clock, so right after a message they are still 0, as the README says', async () => {
    const memory = createMemoryTransport();
    const clock = new SimulatedClock();
    clock.set(10_000);
    const conn = createConnection('ws://example.test/', { transport: memory.transport, clock, metrics: metrics() });
    await settle();
    memory.last!.accept();
    memory.last!.message('hi');
    expect(conn.metrics.messagesIn).toBe(1);
    expect(conn.metrics.messagesInLastSecond).toBe(0);
    clock.increment(1_000);
    expect(conn.metrics.messagesInLastSecond).toBe(1);
    conn.close();
    expect(section('### Metrics')).toMatch(/`messagesInLastSecond`[\s\S]*last full second/);
  });
});

describe('close code 4401', () => {
  it('is what a refused auth is reported as, never sent to the server; the README says so', async () => {
    const memory = createMemoryTransport();
    const closes: Array<{ code: number; reason: string }> = [];
    const conn = createConnection('ws://example.test/', { transport: memory.transport, auth: { token: () => 't' } });
    conn.addEventListener('close', (e) => closes.push({ code: e.code, reason: e.reason }));
    for (let attempt = 0; attempt < 2; attempt++) {
      await settle();
      memory.last!.accept();
      memory.last!.message('{"type":"auth_error"}');
      // The first refusal refreshes the token and tries again: no close event (the socket never opened), lastClose.
      if (attempt === 0) expect([closes, conn.actor.getSnapshot().context.lastClose?.code]).toEqual([[], 4401]);
    }
    expect(conn.closedBy).toMatchObject({ kind: 'auth', code: 4401, reason: 'Authentication refused' });
    expect(closes).toEqual([{ code: 4401, reason: 'Authentication refused' }]);
    expect(conn.metrics.lastClose).toMatchObject({ code: 4401 });
    // The sockets were dropped without a close frame: 4401 exists only on the client.
    expect(memory.peers.map((peer) => [peer.terminated, peer.clientClose])).toEqual([[true, null], [true, null]]);

    const closeCodes = section('### Close codes');
    expect(closeCodes).toMatch(/4401/);
    expect(closeCodes).toMatch(/4401[^\n]*\n?[^\n]*never (sent|on the wire)/);
  });
});

describe('pool statechange', () => {
  it('fires on every change of a connection, so from may equal to, as the README says', async () => {
    const memory = createMemoryTransport();
    const pool = createPool('ws://example.test/', { size: 2, transport: memory.transport });
    const seen: string[] = [];
    pool.addEventListener('statechange', (e) => seen.push(`${e.from}->${e.to}`));
    await settle();
    memory.peers[0]!.accept();
    memory.peers[1]!.close(1006); // the other connection goes from connecting to reconnecting: the pool stays degraded
    expect(seen).toEqual(['down->degraded', 'degraded->degraded']);
    pool.close();
    expect(section('### Pool')).toMatch(/`from` may equal `to`/);
  });
});

describe('error message wording', () => {
  it('describe() calls a symbol a symbol and a bigint a bigint', () => {
    expect(describeValue(Symbol('k'))).toBe('a symbol (Symbol(k))');
    expect(describeValue(10n)).toBe('10n');
    const conn = createConnection('ws://example.test/', { transport: createMemoryTransport().transport, startClosed: true });
    expect(() => conn.send(Symbol() as never)).toThrow(/got a symbol/);
    conn.close();
  });

  it('ERR_QUEUE_FULL counts "1 message, 1 byte" in the singular', () => {
    const conn = createConnection('ws://example.test/', {
      transport: createMemoryTransport().transport,
      startClosed: true,
      queue: { maxMessages: 1, overflow: 'reject' },
    });
    conn.open();
    conn.send('a');
    expect(() => conn.send('b')).toThrow(/\(1 message, 1 byte\)/);
    conn.close();
  });
});

describe('examples', () => {
  it("replay-function's README and the main README give the number of paths a badge without `closing` fails, as measured", async () => {
    const paths = connectionPaths({ simple: true });
    let failed = 0;
    for (const path of paths) {
      try {
        await replayPath(path, {
          onStep: (conn) => {
            // The badge with its `closing` branch left out: closing reads as the fallback.
            const { text: shown } = badge(conn.state === 'closing' ? { state: 'idle', readyState: conn.readyState, closedBy: conn.closedBy } : conn);
            if (conn.state === 'closing') expect(shown).toBe('Disconnecting…');
          },
        });
      } catch {
        failed++;
      }
    }
    expect(failed).toBeGreaterThan(0);
    const total = paths.length.toLocaleString('en-US');
    expect(readme).toContain(`Drop the \`closing\` branch from such a badge and ${failed} of the ${total} paths fail`);
    expect(text('examples/replay-function/README.md')).toMatch(new RegExp(`leave that branch out and ${failed} of the\\s+${total} paths fail`));
  });

  it('every import of the repo sources says what to import in an app, and the README does not say they run from the package', () => {
    const files = readdirSync(new URL('../../examples/', import.meta.url), { recursive: true, withFileTypes: true })
      .filter((entry) => entry.isFile() && /\.tsx?$/.test(entry.name))
      .map((entry) => `${entry.parentPath}/${entry.name}`);
    const bare: string[] = [];
    for (const file of files) {
      const lines = readFileSync(file, 'utf8').split('\n');
      lines.forEach((line, i) => {
        if (/from '\.\.\/\.\.\/src\//.test(line) && !/in (an|your) app/.test(line) && !/in (an|your) app/.test(lines[i - 1] ?? '')) bare.push(`${file}:${i + 1}`);
      });
    }
    expect(bare).toEqual([]);
    expect(readme).not.toMatch(/Examples shipped\s+with the package/);
  });
});
