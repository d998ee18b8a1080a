import { createServer, type IncomingMessage } from 'node:http';
import { type TestContext, describe, expect, it } from 'vitest';
import { clientCommand } from '../../src/cli/client.js';
import { run } from '../../src/cli/run.js';
import { createTestServer, type TestServer } from '../../src/testing/index.js';
import { count, startCli } from './spawn.js';

// eslint-disable-next-line no-control-regex
const ESCAPE = /\x1b\[/;

/** A server for one test, closed when that test ends (the tests run concurrently: use the test's own context). */
async function server(context: TestContext, options: Parameters<typeof createTestServer>[0] = {}): Promise<TestServer> {
  const s = await createTestServer(options);
  context.onTestFinished(() => s.close());
  return s;
}

/** A real HTTP server on 127.0.0.1 that answers every WebSocket handshake with 503 and counts them. */
async function refusingServer(context: TestContext): Promise<{ url: string; handshakes(): number }> {
  let handshakes = 0;
  const http = createServer();
  http.on('upgrade', (_request, socket) => {
    handshakes++;
    socket.end('HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  context.onTestFinished(() => new Promise<void>((resolve) => http.close(() => resolve())));
  const { port } = http.address() as { port: number };
  return { url: `ws://127.0.0.1:${port}/`, handshakes: () => handshakes };
}

describe.concurrent('socketchart [<url>] (spawned, piped stdio)', () => {
  it('without a URL: echoes piped lines through the embedded server, plain output, exit 0', async () => {
    const cli = startCli([]);
    cli.child.stdin.end('one\ntwo\n\nthree\n');
    expect(await cli.exited).toBe(0);
    expect(cli.stdout()).toBe('one\ntwo\nthree\n');
    const log = cli.stderr();
    expect(log).toMatch(/echo server listening on ws:\/\/127\.0\.0\.1:\d+\//);
    expect(log).toMatch(/CONNECTING[\s\S]*OPEN - Ready to communicate[\s\S]*CLOSED - Code: 1000, Reason: socketchart: bye \(user\)/);
    expect(log + cli.stdout()).not.toMatch(ESCAPE);
  });

  it('with a URL: logs the drop, the reconnect and the new open; sends what it reads; exits after the drain', async (context) => {
    const s = await server(context);
    const cli = startCli([s.url('/room'), '--drain', '50']);
    await cli.waitFor('stderr', /OPEN - Ready/);
    cli.child.stdin.write('before\n');
    await cli.waitFor('stdout', /^before\n/);
    s.dropAll();
    const log = await cli.waitFor('stderr', /OPEN - Ready[\s\S]*DISCONNECTED - Code: 1006[\s\S]*RECONNECTING - retry 1 in \d+ ms[\s\S]*CONNECTING[\s\S]*OPEN - Ready/);
    expect(count(log, /OPEN - Ready/g)).toBe(2);
    cli.child.stdin.end('after the drop\n');
    expect(await cli.exited).toBe(0);
    expect(cli.stdout()).toBe('before\nafter the drop\n');
    expect(s.received).toEqual(['before', 'after the drop']);
    expect(cli.stderr()).not.toMatch(ESCAPE);
  });

  it('Ctrl-C (SIGINT) closes with 1000 and exits 0', async (context) => {
    const closes: number[] = [];
    const s = await server(context, { onConnection: (socket) => socket.on('close', (code) => closes.push(code)) });
    const cli = startCli([s.url()]);
    await cli.waitFor('stderr', /OPEN - Ready/);
    cli.child.kill('SIGINT');
    expect(await cli.exited).toBe(0);
    expect(cli.stderr()).toMatch(/CLOSED - Code: 1000/);
    await expect.poll(() => closes).toEqual([1000]);
  });

  it('offers the subprotocols, headers and auth token given', async (context) => {
    const requests: IncomingMessage[] = [];
    const s = await server(context, { onConnection: (_socket, request) => requests.push(request) });
    const header = startCli([s.url(), '-p', 'chat.v2', '--protocol', 'chat.v1', '-H', 'X-Trace: 42', '--header', 'X-Empty:', '--auth-token', 's3cret', '--drain', '0']);
    const query = startCli([s.url('/q'), '--auth-token', 't0k', '--auth-in', 'query', '--drain', '0']);
    header.child.stdin.end();
    query.child.stdin.end();
    expect(await header.exited).toBe(0);
    expect(await query.exited).toBe(0);
    const byPath = new Map(requests.map((request) => [new URL(request.url ?? '/', 'ws://x').pathname, request]));
    const headers = byPath.get('/')?.headers;
    expect(headers?.['sec-websocket-protocol']?.split(/, */)).toEqual(['chat.v2', 'chat.v1']);
    expect(headers?.['x-trace']).toBe('42');
    expect(headers?.['x-empty']).toBe('');
    expect(headers?.authorization).toBe('Bearer s3cret');
    expect(byPath.get('/q')?.url).toBe('/q?token=t0k');
    expect(byPath.get('/q')?.headers.authorization).toBeUndefined();
  });

  it('--json pretty-prints received JSON and refuses a typed line that is not JSON (exit 1)', async () => {
    const cli = startCli(['--json']);
    cli.child.stdin.end('{"type":"hi","n":1}\nnot json\n');
    expect(await cli.exited).toBe(1);
    expect(cli.stdout()).toBe('{\n  "type": "hi",\n  "n": 1\n}\n');
    expect(cli.stderr()).toMatch(/not sent: not valid JSON \(.+\): not json/);
  });

  it('--chaos injects faults, announces each, and the connection heals every time', async () => {
    const cli = startCli(['--chaos', '--chaos-interval', '30', '--chaos-faults', 'drop,restart,blackhole', '--heartbeat', '150']);
    // Two faults, each followed by a new open: the chart healed twice.
    await cli.waitFor('stderr', /chaos: (drop|server restart|blackhole)[\s\S]*OPEN - Ready[\s\S]*chaos: (drop|server restart|blackhole)[\s\S]*OPEN - Ready/);
    cli.child.stdin.end('still here\n');
    expect(await cli.exited).toBe(0);
    expect(cli.stdout()).toBe('still here\n');
    expect(cli.stderr()).toMatch(/chaos: injecting each of drop, restart, blackhole once/);
  });

  it('--chaos with stdin ended at once (npm start < /dev/null, CI): every fault once, each healed, then exit 0', async () => {
    const cli = startCli(['--chaos', '--chaos-interval', '30', '--heartbeat', '150']);
    cli.child.stdin.end();
    expect(await cli.exited).toBe(0);
    const log = cli.stderr();
    expect(log).toMatch(/chaos: injecting each of drop, refuse, restart, blackhole once/);
    // In the tour's order, each followed by a new open before the next fault.
    expect(log).toMatch(
      /chaos: drop[\s\S]*OPEN - Ready[\s\S]*chaos: refused handshake[\s\S]*OPEN - Ready[\s\S]*chaos: server restart[\s\S]*OPEN - Ready[\s\S]*chaos: blackhole -[\s\S]*OPEN - Ready[\s\S]*chaos: tour over - 4 faults[\s\S]*CLOSED - Code: 1000/,
    );
    expect(count(log, /chaos: (drop|refused handshake|server restart|blackhole) -/g)).toBe(4);
    // A real process on real timers: four faults, each waiting for the reconnect (the demo's backoff grows while
    // faults come faster than its resetAfter), take ~6 s on a quiet machine and more under a parallel test run.
  }, 40_000);

  it.for([
    [2, 3],
    [0, 1],
  ])('--retries %i against a server refusing every handshake: it sees %i handshake(s) in a row, then the CLI gives up with exit 1', async ([retries, attempts], context) => {
    const refusing = await refusingServer(context);
    const cli = startCli([refusing.url, '--retries', String(retries)]);
    expect(await cli.exited).toBe(1);
    // The process is gone: no attempt can come after these.
    expect(refusing.handshakes()).toBe(attempts);
    expect(count(cli.stderr(), /RECONNECTING - retry \d+/g)).toBe(retries);
    expect(cli.stderr()).toMatch(/the connection ended for good \(giveup, code 1006/);
  });

  it('when the session ends for good (a fatal close code), it says so and exits 1', async (context) => {
    const s = await server(context, { onConnection: (socket) => socket.close(1008, 'policy') });
    const cli = startCli([s.url()]);
    expect(await cli.exited).toBe(1);
    expect(cli.stderr()).toMatch(/the connection ended for good \(\w+, code 1008: policy\)/);
  });
});

describe.concurrent('socketchart usage (spawned)', () => {
  it.each([
    [['--bogus'], /unknown option '--bogus'/, /Run 'socketchart --help' for usage/],
    [['ws://127.0.0.1:1/', '--bogus'], /Unknown option '--bogus'/, /Run 'socketchart connect --help' for usage/],
  ])('%j: message on stderr, exit 2', async (args, message, pointer) => {
    const cli = startCli(args);
    expect(await cli.exited).toBe(2);
    expect(cli.stderr()).toMatch(message);
    expect(cli.stderr()).toMatch(pointer);
    expect(cli.stdout()).toBe('');
  });

  it('--help documents the client and every option, exit 0', async () => {
    const cli = startCli(['--help']);
    expect(await cli.exited).toBe(0);
    const help = cli.stdout();
    expect(help).toMatch(/^Usage: socketchart <command>/);
    expect(help).toContain('Usage: socketchart [<url>] [options]');
    for (const option of ['--protocol', '--header', '--auth-token', '--auth-token-file', 'SOCKETCHART_AUTH_TOKEN', '--auth-in', '--heartbeat', '--no-heartbeat', '--json', '--retries', '--drain', '--inspect', '--chaos', '--chaos-interval', '--chaos-faults', '--help']) {
      expect(help).toContain(option);
    }
  });

  it('<url> --help and connect --help print the client help (in-process), exit 0', async () => {
    for (const args of [['ws://127.0.0.1:1/', '--help'], ['connect', '-h']]) {
      let stdout = '';
      expect(await run(args, { stdout: (t) => (stdout += t), stderr: () => {} })).toBe(0);
      expect(stdout).toMatch(/^Usage: socketchart \[<url>\] \[options\]/);
    }
  });
});

describe('socketchart usage (in-process: parsing fails before anything starts)', () => {
  it.each([
    [['http://example.com/'], /unsupported URL scheme 'http:'/],
    [['ws://a/', 'ws://b/'], /expected at most one <url>/],
    [['connect', 'not a url'], /'not a url' is not a URL/],
    [['--header', 'no colon here'], /--header 'no colon here' is not 'Name: value'/],
    [['--heartbeat', 'soon'], /--heartbeat takes a whole number >= 1; got 'soon'/],
    [['--heartbeat'], /argument missing/],
    [['--heartbeat', '100', '--no-heartbeat'], /contradict/],
    [['--chaos', 'ws://127.0.0.1:1/'], /--chaos needs the embedded echo server/],
    [['--chaos-interval', '100'], /--chaos-interval needs --chaos/],
    [['--chaos', '--chaos-faults', 'flood'], /--chaos-faults takes a comma-separated list/],
    [['--auth-in', 'cookie', '--auth-token', 'x'], /--auth-in takes 'header' or 'query'/],
    [['--auth-in', 'query'], /--auth-in needs a token/],
    [['--protocol', 'bad name'], /not a valid subprotocol name/],
    [['--retries=-1'], /--retries takes a whole number >= 0; got '-1'/],
    [['--retries', '2.5'], /--retries takes a whole number >= 0; got '2.5'/],
  ])('%j: exit 2 with a clear message', async (args, message) => {
    let stdout = '';
    let stderr = '';
    const code = await run(args, { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t) });
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toMatch(message);
    expect(stderr).toContain("Run 'socketchart connect --help' for usage.");
  });

  it('claims URLs, its own options and no arguments; leaves other words and unknown options alone', () => {
    for (const first of ['ws://h/', 'wss://h/', 'http://h/', '--json', '-H', '--chaos-faults=drop', '']) {
      expect(clientCommand.accepts?.(first), first).toBe(true);
    }
    for (const first of ['diagram', 'frobnicate', '--verbose', 'localhost:8080']) expect(clientCommand.accepts?.(first), first).toBe(false);
  });
});
