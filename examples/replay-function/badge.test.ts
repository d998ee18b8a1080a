/** The badge at every step of every path the connection chart allows, on a real connection (vitest). */
import { describe, expect, it } from 'vitest';
import { connectionPaths, replayPath } from '../../src/testing/index.js'; // in your app: from 'socketchart/testing'
import { badge } from './badge.js';

const paths = connectionPaths({ simple: true });

describe('badge over every generated path', () => {
  it.each(paths.map((p) => [`${p.id}: ${p.description}`, p] as const))('%s', async (_name, path) => {
    let wasOnline = false;
    await replayPath(path, {
      onStep: (conn) => {
        const { text, tone } = badge(conn);
        expect(tone === 'ok').toBe(conn.readyState === 1); // green exactly when send() goes out
        if (conn.state === 'closing') expect(text).toBe('Disconnecting…');
        if (conn.state === 'closed') expect(tone).toBe(conn.closedBy?.kind === 'user' ? 'busy' : 'down');
        if (wasOnline && tone !== 'ok') expect(text).not.toBe('Not connected'); // a drop never looks like "never connected"
        wasOnline = tone === 'ok';
      },
    });
  });
});
