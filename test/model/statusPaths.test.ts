/**
 * examples/status-paths: an app's status indicator, tested over every path of the connection chart. An app writes
 * the same test with `import { connectionPaths } from 'socketchart/testing'`.
 */
import { describe, expect, it } from 'vitest';
import { statusIndicator } from '../../examples/status-paths/indicator.js';
import { connectionPaths } from '../../src/testing/index.js';

const paths = connectionPaths({ simple: true });

describe('status indicator over every generated path', () => {
  it.each(paths.map((p) => [`${p.id}: ${p.description}`, p] as const))('%s', (_name, path) => {
    let previous = statusIndicator({ state: 'idle' });
    for (const [i, step] of path.steps.entries()) {
      const where = `after step ${i + 1} (${step.state})`;
      const status = statusIndicator(step);
      expect(status.label, where).not.toBe('');
      // Green exactly when messages can be sent: readyState OPEN.
      expect(status.color === 'green', where).toBe(step.readyState === 1);
      // While the network is down and the connection waits for it, the user is told so.
      if (step.state === 'reconnecting.waitingForNetwork') expect(status.label, where).toMatch(/offline/i);
      // The user's own close is never shown as an error; every other end of the session is.
      if (step.state === 'closed') expect(status.color, where).toBe(step.closedBy === 'user' ? 'grey' : 'red');
      // A lost connection never jumps from green to "Not connected": it says it is reconnecting, or why it ended.
      if (previous.color === 'green' && status.color !== 'green') expect(status.label, where).not.toBe('Not connected');
      previous = status;
    }
  });

  it('has an indicator for every public state the paths reach', () => {
    const states = new Set(paths.flatMap((p) => p.steps.map((s) => s.state)));
    expect([...states].sort()).toEqual(
      [
        'closed',
        'closing',
        'connecting.authenticating',
        'connecting.opening',
        'open',
        'reconnecting.backoff',
        'reconnecting.waitingForNetwork',
      ].sort(),
    );
    const kinds = new Set(paths.flatMap((p) => p.steps.map((s) => s.closedBy)).filter(Boolean));
    expect([...kinds].sort()).toEqual(['auth', 'error', 'fatal', 'giveup', 'server', 'user']);
  });
});
