import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type TestContext, afterAll, describe, expect, it } from 'vitest';
import { run } from '../../src/cli/run.js';
import { createTestServer, type TestServer } from '../../src/testing/index.js';
import { count, startCli } from './spawn.js';

// Issue 11 item 14: `--auth-token` shows the token to every user in `ps`; the environment and a file do not.

const dir = mkdtempSync(join(tmpdir(), 'socketchart-cli-auth-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;
/** A fresh file in this suite's temp dir holding `content` (the tests run concurrently: one file each). */
function tokenFile(content: string | Buffer): string {
  const path = join(dir, `token-${++files}`);
  writeFileSync(path, content);
  return path;
}

/** A server recording every handshake it accepts, closed when the test ends. */
async function recordingServer(context: TestContext): Promise<{ server: TestServer; requests: IncomingMessage[] }> {
  const requests: IncomingMessage[] = [];
  const server = await createTestServer({ onConnection: (_socket, request) => requests.push(request) });
  context.onTestFinished(() => server.close());
  return { server, requests };
}

const bearer = (request: IncomingMessage) => request.headers.authorization?.replace(/^Bearer /, '');
const queryToken = (request: IncomingMessage) => new URL(request.url ?? '/', 'ws://x').searchParams.get('token');

describe.concurrent('socketchart auth token sources (spawned, against a real server)', () => {
  it(`$SOCKETCHART_AUTH_TOKEN reaches the server as 'Authorization: Bearer'; it is never printed and nothing warns`, async (context) => {
    const { server, requests } = await recordingServer(context);
    const cli = startCli([server.url(), '--drain', '0'], { SOCKETCHART_AUTH_TOKEN: 'env-s3cret-4711' });
    cli.child.stdin.end();
    expect(await cli.exited).toBe(0);
    expect(requests.map(bearer)).toEqual(['env-s3cret-4711']);
    expect(cli.stdout() + cli.stderr()).not.toContain('env-s3cret');
    expect(cli.stderr()).not.toMatch(/warning/);
  });

  it('--auth-token-file (query mode): trailing line breaks removed, the file read again for each attempt, over the environment; never printed', async (context) => {
    const { server, requests } = await recordingServer(context);
    const file = tokenFile('file-s3cret-1\n');
    const cli = startCli([server.url('/q'), '--auth-token-file', file, '--auth-in', 'query', '--drain', '0'], { SOCKETCHART_AUTH_TOKEN: 'env-loses' });
    await cli.waitFor('stderr', /OPEN - Ready/);
    // A rotated token (as a secrets agent writes it): the reconnect must carry the new one.
    writeFileSync(file, 'file-s3cret-2\r\n');
    server.dropAll();
    await cli.waitFor('stderr', /OPEN - Ready[\s\S]*OPEN - Ready/);
    cli.child.stdin.end();
    expect(await cli.exited).toBe(0);
    expect(requests.map(queryToken)).toEqual(['file-s3cret-1', 'file-s3cret-2']);
    expect(requests.map((request) => request.headers.authorization)).toEqual([undefined, undefined]);
    expect(cli.stdout() + cli.stderr()).not.toMatch(/s3cret|env-loses/);
    expect(cli.stderr()).not.toMatch(/warning/);
  });

  it('--auth-token-file gone at a later attempt: that attempt fails with an error naming the file, the next one reads it again', async (context) => {
    const { server, requests } = await recordingServer(context);
    const file = tokenFile('before-s3cret\n');
    const cli = startCli([server.url(), '--auth-token-file', file, '--drain', '0']);
    await cli.waitFor('stderr', /OPEN - Ready/);
    unlinkSync(file);
    server.dropAll();
    await cli.waitFor('stderr', new RegExp(`ERROR - --auth-token-file '${file}' cannot be read \\(ENOENT`));
    writeFileSync(file, 'after-s3cret\n');
    await cli.waitFor('stderr', /OPEN - Ready[\s\S]*OPEN - Ready/);
    cli.child.stdin.end();
    expect(await cli.exited).toBe(0);
    // A failed read never reaches the server: it saw exactly the two good tokens.
    expect(requests.map(bearer)).toEqual(['before-s3cret', 'after-s3cret']);
    expect(cli.stdout() + cli.stderr()).not.toContain('s3cret');
  });

  it('--auth-token-file on a pipe (a fifo, as <(command) gives) is read once: the reconnect reuses that token', async (context) => {
    const { server, requests } = await recordingServer(context);
    const fifo = join(dir, `fifo-${++files}`);
    execFileSync('mkfifo', [fifo]);
    const cli = startCli([server.url(), '--auth-token-file', fifo, '--drain', '0']);
    // Opening a fifo for writing waits for the reader: the CLI, at start.
    await writeFile(fifo, 'pipe-s3cret\n');
    await cli.waitFor('stderr', /OPEN - Ready/);
    // Reading the drained pipe again would find nothing (or block): the token read at start must be kept.
    server.dropAll();
    await cli.waitFor('stderr', /OPEN - Ready[\s\S]*OPEN - Ready/);
    cli.child.stdin.end();
    expect(await cli.exited).toBe(0);
    expect(requests.map(bearer)).toEqual(['pipe-s3cret', 'pipe-s3cret']);
    expect(cli.stdout() + cli.stderr()).not.toContain('pipe-s3cret');
  });

  it('--auth-token on the command line still works, with one warning on stderr that other users can read it', async (context) => {
    const { server, requests } = await recordingServer(context);
    const cli = startCli([server.url(), '--auth-token', 'argv-s3cret', '--drain', '0']);
    cli.child.stdin.end();
    expect(await cli.exited).toBe(0);
    expect(requests.map(bearer)).toEqual(['argv-s3cret']);
    const stderr = cli.stderr();
    expect(count(stderr, /warning/g)).toBe(1);
    expect(stderr).toMatch(/socketchart: warning: --auth-token puts the token on the command line, where other users of this machine can read it \(ps.*; use --auth-token-file <path> or \$SOCKETCHART_AUTH_TOKEN instead/);
    expect(stderr + cli.stdout()).not.toContain('argv-s3cret');
  });

  it.for([[''], ['\n']])('$SOCKETCHART_AUTH_TOKEN set but empty (%j): exit 2 before connecting, not a session without auth', async ([value], context) => {
    const { server } = await recordingServer(context);
    const cli = startCli([server.url()], { SOCKETCHART_AUTH_TOKEN: value as string });
    expect(await cli.exited).toBe(2);
    expect(cli.stderr()).toMatch(/\$SOCKETCHART_AUTH_TOKEN is empty: it must hold the token/);
    expect(server.accepted).toBe(0);
  });
});

describe('socketchart auth token usage errors (in-process: exit 2 before anything starts, the token never quoted)', () => {
  mkdirSync(join(dir, 'a-directory'));
  it.each([
    [['--auth-token-file', join(dir, 'missing')], /--auth-token-file '.*missing' cannot be read \(ENOENT/],
    [['--auth-token-file', join(dir, 'a-directory')], /--auth-token-file '.*a-directory' cannot be read \(EISDIR/],
    [['--auth-token-file', tokenFile('')], /--auth-token-file '.*' is empty: it must hold the token/],
    [['--auth-token-file', tokenFile('\r\n\n')], /--auth-token-file '.*' is empty/],
    [['--auth-token-file', tokenFile('two-s3cret\nlines-s3cret\n')], /--auth-token-file '.*' holds a control character \(a line break inside the token\?\)/],
    [['--auth-token-file', tokenFile(Buffer.alloc(64 * 1024 + 1, 'a'))], /--auth-token-file '.*' is over 64 KiB/],
    [['--auth-token-file', '/dev/zero'], /--auth-token-file '\/dev\/zero' is over 64 KiB/],
    [['--auth-token', ''], /--auth-token is empty/],
    [['--auth-token', 'tab\ts3cret'], /--auth-token holds a control character/],
    [['--auth-token', 'x', '--auth-token-file', tokenFile('y')], /--auth-token and --auth-token-file contradict each other/],
    [['--auth-in', 'query'], /--auth-in needs a token: --auth-token-file <path>, \$SOCKETCHART_AUTH_TOKEN or --auth-token/],
  ])('%j: exit 2 with a clear message', async (args, message) => {
    let stdout = '';
    let stderr = '';
    const code = await run(['ws://127.0.0.1:1/', ...args], { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t) });
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toMatch(message);
    expect(stderr).toContain("Run 'socketchart connect --help' for usage.");
    expect(stderr).not.toContain('s3cret');
  });
});
