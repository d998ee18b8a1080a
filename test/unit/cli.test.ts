import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { Command } from '../../src/cli/command.js';
import { UsageError } from '../../src/cli/io.js';
import { diagramCommand } from '../../src/cli/diagram.js';
import { run } from '../../src/cli/run.js';
import { toDot, toMermaid } from '../../src/visualize/index.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** Runs the real entry point the way a user would (through tsx until it is built). */
function cli(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
    cwd: root,
    encoding: 'utf8',
    timeout: 30_000,
  });
  if (result.error) throw result.error;
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Runs the CLI in-process, collecting what it writes. */
async function runInProcess(args: string[], commands?: readonly Command[]) {
  let stdout = '';
  let stderr = '';
  const code = await run(args, { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t) }, commands);
  return { code, stdout, stderr };
}

describe('socketchart (spawned)', () => {
  it('diagram --format dot prints the DOT diagram and exits 0', () => {
    const { status, stdout, stderr } = cli('diagram', '--format', 'dot');
    expect(stderr).toBe('');
    expect(status).toBe(0);
    expect(stdout).toBe(toDot());
    expect(stdout).toMatch(/^digraph "connection" \{/);
  });

  it('diagram defaults to Mermaid', () => {
    const { status, stdout } = cli('diagram');
    expect(status).toBe(0);
    expect(stdout).toBe(toMermaid());
    expect(stdout.startsWith('stateDiagram-v2\n')).toBe(true);
  });

  it('a bad flag exits 2 with a message on stderr and nothing on stdout', () => {
    const { status, stdout, stderr } = cli('diagram', '--bogus');
    expect(status).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toContain("Unknown option '--bogus'");
    expect(stderr).toContain("socketchart diagram --help");
  });

  it('an unknown format exits 2 naming the formats', () => {
    const { status, stdout, stderr } = cli('diagram', '--format', 'svg');
    expect(status).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toContain("unknown format 'svg' (expected one of: mermaid, dot)");
  });

  it('--help lists the commands and exits 0', () => {
    const { status, stdout } = cli('--help');
    expect(status).toBe(0);
    expect(stdout).toMatch(/^Usage: socketchart <command>/);
    expect(stdout).toMatch(/^ {2}diagram {2}/m);
  });
});

describe('socketchart (in-process)', () => {
  it('diagram -f mermaid and --help', async () => {
    expect(await runInProcess(['diagram', '-f', 'mermaid'])).toEqual({ code: 0, stdout: toMermaid(), stderr: '' });
    const help = await runInProcess(['diagram', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: socketchart diagram \[--format mermaid\|dot\]/);
  });

  it('with no command and no command taking over an empty argument list, is a usage error: exit 2', async () => {
    // The real table has the echo client take `socketchart` with no arguments (tested in test/cli).
    const { code, stderr } = await runInProcess([], [diagramCommand]);
    expect(code).toBe(2);
    expect(stderr).toContain('missing command');
  });

  it.each([
    [['frobnicate'], "unknown command 'frobnicate'"],
    [['--verbose'], "unknown option '--verbose'"],
    [['diagram', 'extra'], "Unexpected argument 'extra'"],
    [['diagram', '--format'], 'argument missing'],
  ])('%j is a usage error: exit 2', async (args, message) => {
    const { code, stdout, stderr } = await runInProcess(args);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toContain(message);
  });

  it('dispatches through the command table, including commands chosen by their first argument', async () => {
    const calls: string[][] = [];
    const client: Command = {
      name: 'connect',
      summary: 'talk to a server',
      help: 'Usage: socketchart <url>\n',
      accepts: (arg) => /^wss?:\/\//.test(arg),
      run: (args) => (calls.push([...args]), 0),
    };
    const failing: Command = {
      name: 'inspect',
      summary: 'watch a connection',
      help: 'Usage: socketchart inspect <url>\n',
      run: (args) => {
        if (args.length === 0) throw new UsageError('missing <url>');
        throw new Error('connection refused');
      },
    };
    const table = [client, failing];
    expect((await runInProcess(['ws://example.test/'], table)).code).toBe(0);
    expect((await runInProcess(['connect', 'ws://example.test/'], table)).code).toBe(0);
    expect(calls).toEqual([['ws://example.test/'], ['ws://example.test/']]);
    expect(await runInProcess(['inspect'], table)).toMatchObject({ code: 2, stderr: expect.stringContaining('socketchart inspect: missing <url>') });
    expect(await runInProcess(['inspect', 'ws://x'], table)).toEqual({ code: 1, stdout: '', stderr: 'socketchart inspect: connection refused\n' });
    expect((await runInProcess(['--help'], table)).stdout).toContain('  inspect  watch a connection');
  });
});
