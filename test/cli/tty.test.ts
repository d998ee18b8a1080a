/* eslint-disable no-control-regex -- the terminal screen is matched with its color codes */
import { execFileSync, spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { root } from './spawn.js';

// The status line needs a real terminal: tmux gives one (detached), where it exists. The renderer itself is
// tested as a pure function in statusLine.test.ts.
// Skipped without tmux on a developer's machine; under CI (which installs it, see .ci/run) it must run.
const hasTmux = spawnSync('tmux', ['-V']).status === 0 || process.env.CI === 'true';

describe.skipIf(!hasTmux)('socketchart in a terminal (tmux)', () => {
  it('shows the live status line at the bottom, prints echoes above it, and Ctrl-C exits 0', async () => {
    const socket = `socketchart-test-${process.pid}`;
    const tmux = (...args: string[]) => execFileSync('tmux', ['-L', socket, ...args], { encoding: 'utf8' });
    // With -e the colors are kept as escape codes; `plain` strips them.
    const screen = () => tmux('capture-pane', '-p', '-e', '-t', 'cli');
    const plain = (text: string) => text.replace(/\x1b\[[0-9;]*m/g, '');
    const waitForScreen = async (pattern: RegExp, colored = false): Promise<string> => {
      const deadline = Date.now() + 8000;
      for (;;) {
        const text = colored ? screen() : plain(screen());
        if (pattern.test(text)) return text;
        if (Date.now() > deadline) throw new Error(`${pattern} never appeared on the terminal:\n${text}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    };
    const command = `node --import tsx src/cli/main.ts; echo "EXIT=$?"; sleep 30`;
    tmux('-f', '/dev/null', 'new-session', '-d', '-s', 'cli', '-x', '90', '-y', '20', '-c', root, command);
    try {
      // Open: a green dot, the state path, uptime, traffic, then the input row.
      let text = await waitForScreen(/\x1b\[32m●\x1b\[(0|39)m open.*up 0:0\d/, true);
      tmux('send-keys', '-t', 'cli', 'hello tty', 'Enter');
      text = await waitForScreen(/< .*hello tty[\s\S]*in 1 out 1/);
      const rows = text.split('\n').filter((row) => row.trim() !== '');
      expect(rows.at(-2)).toMatch(/^● open │ up \d:\d\d │ in 1 out 1 │ rtt/);
      expect(rows.at(-1)?.trim()).toBe('›');
      expect(rows).toContain('> hello tty');
      expect(rows.filter((row) => row.startsWith('● open')).length).toBe(1);
      tmux('send-keys', '-t', 'cli', 'C-c');
      text = await waitForScreen(/EXIT=\d+/);
      expect(text).toContain('EXIT=0');
      expect(text).toMatch(/CLOSED - Code: 1000/);
    } finally {
      spawnSync('tmux', ['-L', socket, 'kill-server']);
    }
  });
});
