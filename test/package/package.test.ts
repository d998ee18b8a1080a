/**
 * The package as a user gets it: built, packed with `npm pack`, extracted into a throwaway app's node_modules and
 * used from there by name (never from src/). Nothing here works around a packaging fault: each one fails a test.
 */
import { spawn } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build as esbuild, type BuildFailure } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const TIMEOUT = 120_000;

/** The TypeScript versions an app may compile the .d.ts with: the repo's 5.9 and 7 (the native compiler, `typescript7`). */
const COMPILERS = [
  { name: 'TypeScript 5.9', tsc: join(root, 'node_modules', 'typescript', 'bin', 'tsc'), version: /^Version 5\.9\./ },
  { name: 'TypeScript 7', tsc: join(root, 'node_modules', 'typescript7', 'bin', 'tsc'), version: /^Version 7\./ },
] as const;

/** Every entry with its types: the exports key and the dist file name. */
const ENTRIES = [
  ['.', 'index'],
  ['./node', 'node'],
  ['./testing', 'testing'],
  ['./testing/browser', 'testing-browser'],
  ['./delivery', 'delivery'],
  ['./chunking', 'chunking'],
  ['./batching', 'batching'],
  ['./requests', 'requests'],
  ['./schema', 'schema'],
  ['./router', 'router'],
  ['./metrics', 'metrics'],
  ['./server', 'server'],
  ['./server/redis', 'server-redis'],
] as const;

interface Result {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion (killed after `timeout` ms); never throws on a non-zero exit. */
function run(command: string, args: string[], cwd: string, timeout = 60_000): Promise<Result> {
  return new Promise((resolve, reject) => {
    // Plain node: no loader or option inherited from the test runner.
    const env = { ...process.env, NODE_OPTIONS: '', NO_COLOR: '1', FORCE_COLOR: '0' };
    const child = spawn(command, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], timeout });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

const describeRun = (r: Result) => `exit ${r.code ?? r.signal}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;

interface PackageJson {
  name: string;
  bin: Record<string, string>;
  main: string;
  module: string;
  types: string;
  exports: Record<string, unknown>;
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  scripts?: Record<string, string>;
}

/** Every target string in an `exports` map, with the condition path that leads to it. */
function exportTargets(node: unknown, path: string[] = []): Array<{ path: string; target: string }> {
  if (typeof node === 'string') return [{ path: path.join(' > '), target: node }];
  if (node && typeof node === 'object') return Object.entries(node).flatMap(([key, value]) => exportTargets(value, [...path, key]));
  return [];
}

const normalize = (target: string) => target.replace(/^\.\//, '');

/** The package a bare specifier belongs to: `xstate/graph` -> `xstate`, `@a/b/c` -> `@a/b`. */
const packageOf = (specifier: string) => specifier.split('/').slice(0, specifier.startsWith('@') ? 2 : 1).join('/');

/** The same program for ESM and CJS: only the way the five entries (and ws) are loaded differs. */
const programBody = String.raw`
const nextMessage = (conn) =>
  new Promise((resolve) => conn.addEventListener('message', (e) => resolve(String(e.data)), { once: true }));
const closeAndWait = (conn) => {
  const closed = new Promise((resolve) => conn.addEventListener('close', resolve, { once: true }));
  conn.close(1000, 'done');
  return closed;
};

async function main(label) {
  // socketchart/node against socketchart/testing's server, which echoes by default.
  const testServer = await testing.createTestServer();
  const conn = node.createConnection(testServer.url());
  const echoed = nextMessage(conn);
  conn.send('hello ' + label);
  const echo = await echoed;
  await closeAndWait(conn);

  // The core entry's createConnection, given the Node transport (Node 20 has no global WebSocket).
  const coreConn = core.createConnection(testServer.url(), { transport: node.nodeTransport });
  const coreEchoed = nextMessage(coreConn);
  coreConn.send('core ' + label);
  const coreEcho = await coreEchoed;
  await closeAndWait(coreConn);
  await testServer.close();

  // socketchart/delivery's atLeastOnce against socketchart/server's attachAckServer on a plain ws server.
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise((resolve) => wss.once('listening', resolve));
  const ackServer = server.attachAckServer(wss, {
    onMessage(session, payload) {
      session.send('accepted ' + payload);
    },
  });
  const ackConn = node.createConnection('ws://127.0.0.1:' + wss.address().port, { delivery: delivery.atLeastOnce() });
  const accepted = nextMessage(ackConn);
  ackConn.send('order ' + label);
  const ack = await accepted;
  const protocol = ackConn.protocol;
  await closeAndWait(ackConn);
  ackServer.close();
  await new Promise((resolve) => wss.close(resolve));

  const sameProtocol = delivery.ACK_PROTOCOL === server.ACK_PROTOCOL && protocol === delivery.ACK_PROTOCOL;
  // No process.exit: the process must end by itself once everything is closed.
  console.log('RESULT ' + JSON.stringify({ echo, coreEcho, ack, sameProtocol, state: conn.state }));
}
`;

const esmProgram = `import * as core from 'socketchart';
import * as node from 'socketchart/node';
import * as testing from 'socketchart/testing';
import * as delivery from 'socketchart/delivery';
import * as server from 'socketchart/server';
import { WebSocketServer } from 'ws';
${programBody}
await main('esm');
`;

const cjsProgram = `'use strict';
const core = require('socketchart');
const node = require('socketchart/node');
const testing = require('socketchart/testing');
const delivery = require('socketchart/delivery');
const server = require('socketchart/server');
const { WebSocketServer } = require('ws');
${programBody}
main('cjs').catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
`;

/** Type-checked with moduleResolution bundler: @ts-expect-error lines fail the check if the types were `any`. */
const bundlerCheck = `import { createConnection as createBrowserConnection, type Connection } from 'socketchart';
import { createConnection, createPool } from 'socketchart/node';
import { createTestServer, type TestServer } from 'socketchart/testing';
import { atLeastOnce } from 'socketchart/delivery';
import { attachAckServer, type AckServer } from 'socketchart/server';
import { chunking } from 'socketchart/chunking';
import { batching } from 'socketchart/batching';
import { requests } from 'socketchart/requests';
import { schema } from 'socketchart/schema';
import { router } from 'socketchart/router';
import { metrics } from 'socketchart/metrics';

export const conn: Connection = createConnection('ws://127.0.0.1:1', { delivery: atLeastOnce() });
export const featured: Connection = createConnection('ws://127.0.0.1:1', {
  chunking: chunking({ chunkSize: 1024 }),
  batching: batching({ envelope: (frames) => JSON.stringify(frames) }),
  requests: requests(),
  router: router(),
  metrics: metrics(),
});
export const validated = schema;
// @ts-expect-error -- a plug-in's options are typed
chunking({ chunkSize: 'big' });
export const browserConn: Connection = createBrowserConnection('ws://127.0.0.1:1');
export const pool = createPool('ws://127.0.0.1:1', { size: 2 });
export const server: Promise<TestServer> = createTestServer();
export const attach: (...args: Parameters<typeof attachAckServer>) => AckServer = attachAckServer;
conn.send('text');
// @ts-expect-error -- not a URL
createConnection(42);
// @ts-expect-error -- no such method
conn.notAMethod();
`;

/**
 * An app with typed messages (issue 12): a Connection<Msg, Msg> goes where a Connection is taken, a drop is resent
 * as the message it was, the snapshot and state names are typed. Checked under each compiler and resolution.
 */
const typedCheck = `import {
  createConnection,
  jsonCodec,
  logTransitions,
  statePathOf,
  type Connection,
  type ConnectionSnapshot,
  type ConnectionStatePath,
  type DropEvent,
} from 'socketchart';
import { connectionPaths, replayPath } from 'socketchart/testing/browser';

type Msg = { type: 'chat'; text: string } | { type: 'join'; room: string };
export const typed = createConnection<Msg, Msg>('ws://127.0.0.1:1', { codec: jsonCodec(), startClosed: true });
export const stopLog: () => void = logTransitions(typed);
export function status(props: { conn: Connection }): string {
  return props.conn.state;
}
status({ conn: typed });
typed.addEventListener('drop', (e: DropEvent<Msg>) => typed.send(e.message));
// @ts-expect-error -- the frame is not a Msg: resend e.message
typed.addEventListener('drop', (e) => typed.send(e.data));
export const snapshot: ConnectionSnapshot = typed.actor.getSnapshot();
export const path: ConnectionStatePath = statePathOf(snapshot);
export const reconnecting: boolean = typed.matches('reconnecting');
// @ts-expect-error -- a misspelled state name
typed.matches('reconecting');
export const replays: Array<Promise<void>> = connectionPaths().slice(0, 1).map((p) => replayPath<Msg, Msg>(p, { onStep: (c) => void logTransitions(c) }));
`;

const node16Esm = `import { createConnection } from 'socketchart/node';
import { atLeastOnce } from 'socketchart/delivery';
export const conn = createConnection('ws://127.0.0.1:1', { delivery: atLeastOnce() });
// @ts-expect-error -- not a URL
createConnection(42);
`;

const node16Cjs = `import { createConnection } from 'socketchart/node';
import core = require('socketchart');
import testing = require('socketchart/testing');
export const conn = createConnection('ws://127.0.0.1:1');
export const browserConn = core.createConnection('ws://127.0.0.1:1');
export const server = testing.createTestServer();
// @ts-expect-error -- not a URL
core.createConnection(42);
`;

describe('the packed package', () => {
  let tmp = '';
  let app = '';
  let pkgDir = '';
  let pkg: PackageJson;
  let packedFiles: string[] = [];

  beforeAll(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'socketchart-package-'));
    app = join(tmp, 'app');
    pkgDir = join(app, 'node_modules', 'socketchart');

    const built = await run('npm', ['run', 'build'], root, 90_000);
    expect(built.code, describeRun(built)).toBe(0);

    // Built just above: `--ignore-scripts` skips the `prepack` build (which also keeps its output out of the JSON).
    const packed = await run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', tmp], root);
    expect(packed.code, describeRun(packed)).toBe(0);
    const [info] = JSON.parse(packed.stdout) as Array<{ filename: string; files: Array<{ path: string }> }>;
    if (!info) throw new Error(`npm pack --json printed no package:\n${packed.stdout}`);
    packedFiles = info.files.map((f) => f.path);

    await mkdir(pkgDir, { recursive: true });
    const extracted = await run('tar', ['-xzf', join(tmp, info.filename), '-C', pkgDir, '--strip-components=1'], tmp);
    expect(extracted.code, describeRun(extracted)).toBe(0);
    pkg = JSON.parse(await readFile(join(pkgDir, 'package.json'), 'utf8')) as PackageJson;

    // No network: the runtime dependencies (and ws, the optional peer the Node entries need) come from the repo.
    await writeFile(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, version: '1.0.0' }));
    for (const dep of ['xstate', 'ws', '@types/node', '@types/ws']) {
      await mkdir(join(app, 'node_modules', packageOf(dep), '..'), { recursive: true });
      await symlink(join(root, 'node_modules', dep), join(app, 'node_modules', dep), 'dir');
    }
  }, TIMEOUT);

  afterAll(async () => {
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it('holds every exports target, main/module/types and the bin, and no src/ or test/ file', () => {
    const targets = [
      ...exportTargets(pkg.exports).filter((t) => t.target !== './package.json'),
      { path: 'main', target: pkg.main },
      { path: 'module', target: pkg.module },
      { path: 'types', target: pkg.types },
      ...Object.entries(pkg.bin).map(([name, target]) => ({ path: `bin ${name}`, target })),
    ];
    expect(targets.length).toBeGreaterThan(20);
    const missing = targets.filter((t) => !packedFiles.includes(normalize(t.target)));
    expect(missing, `exports/bin targets missing from the tarball`).toEqual([]);
    // The types of each entry: .d.ts under import, .d.cts under require.
    for (const [entry] of ENTRIES) {
      expect(exportTargets(pkg.exports[entry], [entry]).map((t) => t.target)).toEqual(
        expect.arrayContaining([expect.stringMatching(/\.d\.ts$/), expect.stringMatching(/\.d\.cts$/)]),
      );
    }
    // Examples ship as source to read (their tests included: they show how to test an app); nothing else does.
    expect(packedFiles.filter((f) => /^(src|test|bench|scripts|machines)\//.test(f) || (f.endsWith('.test.ts') && !f.startsWith('examples/')))).toEqual([]);
    expect(packedFiles).toEqual(expect.arrayContaining(['package.json', 'README.md', 'PROTOCOL.md']));
  });

  it('builds before it is packed (`prepack`), so `npm pack`/`npm publish` from a fresh clone ships dist/', () => {
    // Without it a clone's `npm pack` gave 23 files and no dist/: every import failed with ERR_MODULE_NOT_FOUND.
    expect(pkg.scripts?.prepack).toBe('npm run build');
  });

  it('holds every examples/ file or folder the README links, so the links resolve from the npm page', async () => {
    const readme = await readFile(join(root, 'README.md'), 'utf8');
    const links = [...new Set([...readme.matchAll(/\]\((examples\/[^)#\s]*)\)/g)].map((m) => m[1] as string))];
    expect(links.length).toBeGreaterThan(5);
    const missing = links.filter((link) => (link.endsWith('/') ? !packedFiles.some((f) => f.startsWith(link)) : !packedFiles.includes(link)));
    expect(missing, 'README links to examples the package does not ship').toEqual([]);
    // What a shipped example imports from another example ships too.
    const examples = packedFiles.filter((f) => f.startsWith('examples/') && f.endsWith('.ts'));
    const unshipped: string[] = [];
    for (const file of examples) {
      const text = await readFile(join(pkgDir, file), 'utf8');
      for (const [, specifier] of text.matchAll(/from '(\.\.\/[^']+)'/g)) {
        const target = join(file, '..', specifier as string).replace(/\.js$/, '.ts');
        if (target.startsWith('examples/') && !packedFiles.includes(target)) unshipped.push(`${file}: ${specifier}`);
      }
    }
    expect(unshipped).toEqual([]);
  });

  it('imports at run time only Node built-ins, its own name and declared dependencies or peers', async () => {
    const declared = new Set([pkg.name, ...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.peerDependencies ?? {})]);
    const builtins = new Set(builtinModules);
    const files = (await readdir(join(pkgDir, 'dist'))).filter((f) => /\.(c|m)?js$/.test(f));
    expect(files.length).toBeGreaterThan(10);
    const undeclared: string[] = [];
    // `from 'x'`, `import 'x'`, `import('x')`, `require('x')`; not `require('u' + 'rl')` (a computed name), nor the
    // words of a message such as `moved from '${before}'` (no package name starts with `$`).
    const bare = /(?:\b(?:from|import)\s*["']([^"'./$][^"']*)["']|\b(?:import|require)\s*\(\s*["']([^"'./$][^"']*)["']\s*\))/g;
    for (const file of files) {
      const text = await readFile(join(pkgDir, 'dist', file), 'utf8');
      for (const [, statement, call] of text.matchAll(bare)) {
        const specifier = statement ?? call ?? '';
        const name = packageOf(specifier);
        if (specifier.startsWith('node:') || builtins.has(name) || declared.has(name)) continue;
        undeclared.push(`${file}: ${specifier}`);
      }
    }
    expect(undeclared).toEqual([]);
  });

  describe.concurrent('used from an app', () => {
    it('works from ESM with plain node, and the process exits by itself', async () => {
      await writeFile(join(app, 'main.mjs'), esmProgram);
      const result = await run(process.execPath, ['main.mjs'], app, 30_000);
      expect(result.code, describeRun(result)).toBe(0);
      const line = result.stdout.split('\n').find((l) => l.startsWith('RESULT '));
      expect(line, describeRun(result)).toBeDefined();
      expect(JSON.parse(line!.slice('RESULT '.length))).toEqual({
        echo: 'hello esm',
        coreEcho: 'core esm',
        ack: 'accepted order esm',
        sameProtocol: true,
        state: 'closed',
      });
    }, TIMEOUT);

    it('works from CJS with require(), and the process exits by itself', async () => {
      await writeFile(join(app, 'main.cjs'), cjsProgram);
      const result = await run(process.execPath, ['main.cjs'], app, 30_000);
      expect(result.code, describeRun(result)).toBe(0);
      const line = result.stdout.split('\n').find((l) => l.startsWith('RESULT '));
      expect(line, describeRun(result)).toBeDefined();
      expect(JSON.parse(line!.slice('RESULT '.length))).toEqual({
        echo: 'hello cjs',
        coreEcho: 'core cjs',
        ack: 'accepted order cjs',
        sameProtocol: true,
        state: 'closed',
      });
    }, TIMEOUT);

    it('runs the bin with node and, linked as npm links it, by itself', async () => {
      const binPath = normalize(pkg.bin.socketchart ?? '');
      expect(binPath).not.toBe('');
      const text = await readFile(join(pkgDir, binPath), 'utf8');
      expect(text.split('\n')[0], 'the bin needs a node shebang').toMatch(/^#!\/usr\/bin\/env node\s*$/);

      const direct = await run(process.execPath, [join(pkgDir, binPath), '--help'], app);
      expect(direct.code, describeRun(direct)).toBe(0);
      expect(direct.stdout).toMatch(/^Usage: socketchart /);
      expect(direct.stdout).toMatch(/Commands:/);

      // What npm install does with `bin`: a node_modules/.bin link to the file, made executable.
      const binDir = join(app, 'node_modules', '.bin');
      await mkdir(binDir, { recursive: true });
      await symlink(join('..', 'socketchart', binPath), join(binDir, 'socketchart'));
      await chmod(join(pkgDir, binPath), 0o755);
      const linked = await run(join(binDir, 'socketchart'), ['--help'], app);
      expect(linked.code, describeRun(linked)).toBe(0);
      expect(linked.stdout).toBe(direct.stdout);
    }, TIMEOUT);

    it('bundles the core entry for the browser without any Node built-in', async () => {
      const bundle = (source: string) =>
        esbuild({
          stdin: { contents: source, resolveDir: app, loader: 'js' },
          bundle: true,
          platform: 'browser',
          format: 'esm',
          write: false,
          metafile: true,
          logLevel: 'silent',
        });
      const core = await bundle(`import { createConnection } from 'socketchart'; globalThis.c = createConnection;`);
      expect(core.errors).toEqual([]);
      const inputs = Object.keys(core.metafile.inputs);
      expect(inputs.some((i) => i.includes('node_modules/socketchart/dist/'))).toBe(true);
      expect(inputs.filter((i) => !/node_modules\/(socketchart|xstate)\//.test(i) && i !== '<stdin>')).toEqual([]);
      const output = core.outputFiles[0]!.text;
      expect(output).not.toMatch(/\b__require\(|\brequire\(["']/);
      expect(output.length).toBeGreaterThan(1000);

      // The test kit's browser entry bundles for a browser too (socketchart/testing pulls ws and node:http).
      const kit = await bundle(`import { replayPath, connectionPaths } from 'socketchart/testing/browser'; globalThis.k = [replayPath, connectionPaths];`);
      expect(kit.errors).toEqual([]);
      expect(Object.keys(kit.metafile.inputs).filter((i) => !/node_modules\/(socketchart|xstate)\//.test(i) && i !== '<stdin>')).toEqual([]);

      // The check above would catch a Node import: the same bundle of socketchart/node fails on its built-ins.
      const failure = await bundle(`import { createConnection } from 'socketchart/node'; globalThis.c = createConnection;`).then(
        () => null,
        (error: BuildFailure) => error,
      );
      expect(failure?.errors.map((e) => e.text).join('\n')).toMatch(/Could not resolve "(node:)?(http|net|https|fs|stream|crypto|zlib|events|url|tls|buffer)"/);
    }, TIMEOUT);

    it.each(COMPILERS)('type-checks an app under moduleResolution bundler, strict ($name)', async ({ name, tsc, version }) => {
      const dir = `bundler-${name.replace(/\W+/g, '')}`;
      await mkdir(join(app, dir), { recursive: true });
      await writeFile(join(app, dir, 'check.ts'), bundlerCheck);
      await writeFile(join(app, dir, 'typed.ts'), typedCheck);
      await writeFile(
        join(app, dir, 'tsconfig.json'),
        JSON.stringify({
          compilerOptions: {
            target: 'ES2022',
            module: 'ESNext',
            moduleResolution: 'bundler',
            lib: ['ES2022', 'DOM'],
            types: ['node'],
            strict: true,
            noEmit: true,
            skipLibCheck: false,
          },
          files: ['check.ts', 'typed.ts'],
        }),
      );
      const versionRun = await run(process.execPath, [tsc, '--version'], app);
      expect(versionRun.stdout).toMatch(version);
      const result = await run(process.execPath, [tsc, '-p', dir, '--listFiles'], app);
      expect(result.code, describeRun(result)).toBe(0);
      // socketchart/server/redis needs the app's own `redis` (an optional peer): checked where it is bundled, not here.
      for (const [, file] of ENTRIES.filter(([, f]) => f !== 'server-redis')) expect(result.stdout).toContain(`node_modules/socketchart/dist/${file}.d.ts`);
    }, TIMEOUT);

    it.each(COMPILERS)('type-checks ESM and CJS files under module node16, strict (import and require types; $name)', async ({ name, tsc }) => {
      const dir = `node16-${name.replace(/\W+/g, '')}`;
      await mkdir(join(app, dir), { recursive: true });
      await writeFile(join(app, dir, 'check.mts'), node16Esm);
      await writeFile(join(app, dir, 'check.cts'), node16Cjs);
      await writeFile(join(app, dir, 'typed.mts'), typedCheck);
      await writeFile(
        join(app, dir, 'tsconfig.json'),
        JSON.stringify({
          compilerOptions: {
            target: 'ES2022',
            module: 'Node16',
            moduleResolution: 'Node16',
            lib: ['ES2022', 'DOM'],
            types: ['node'],
            strict: true,
            noEmit: true,
            // The bundler check above already checks the .d.ts files (slow); this one checks resolution.
            skipLibCheck: true,
          },
          files: ['check.mts', 'check.cts', 'typed.mts'],
        }),
      );
      const result = await run(process.execPath, [tsc, '-p', dir, '--listFiles'], app);
      expect(result.code, describeRun(result)).toBe(0);
      expect(result.stdout).toContain('node_modules/socketchart/dist/node.d.ts');
      expect(result.stdout).toContain('node_modules/socketchart/dist/delivery.d.ts');
      expect(result.stdout).toContain('node_modules/socketchart/dist/testing-browser.d.ts');
      expect(result.stdout).toContain('node_modules/socketchart/dist/node.d.cts');
      expect(result.stdout).toContain('node_modules/socketchart/dist/index.d.cts');
      expect(result.stdout).toContain('node_modules/socketchart/dist/testing.d.cts');
    }, TIMEOUT);
  });
});
