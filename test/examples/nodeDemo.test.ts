import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { expect, it } from 'vitest';

it('examples/node-demo heals after a drop and refused handshakes, prints every transition, and exits 0', async () => {
  const child = spawn(process.execPath, ['--import', 'tsx', 'examples/node-demo/main.ts'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (chunk) => (out += chunk));
  child.stderr.on('data', (chunk) => (out += chunk));
  const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  const [code] = await once(child, 'exit');
  clearTimeout(killer);
  expect(code).toBe(0);
  expect(out).toContain('received: hello, statechart');
  expect(out).toContain('open -> reconnecting.backoff');
  expect(out).toContain('received: sent while reconnecting: queued, delivered after the reconnect');
  expect(out).toMatch(/ERROR - Unexpected server response: 503/);
  expect(out).toContain('closing -> closed');
  expect(out).toContain('final state: closed (closed by user)');
}, 25_000);
