/** The badge at every step of every path the connection chart allows, on a real connection (vitest). */
import { expect, it } from 'vitest';
import { connectionPaths, replayPath } from '../../src/testing/index.js'; // in your app: from 'socketchart/testing'
import { badge } from './badge.js';

const paths = connectionPaths({ simple: true }); // every variant, shortest and simple paths

it.each(paths.map((p) => [`${p.id}: ${p.description}`, p] as const))('%s', (_name, path) =>
  replayPath(path, {
    onStep: (conn) => {
      const { text, tone } = badge(conn);
      expect(tone === 'ok').toBe(conn.readyState === 1); // green exactly when send() goes out
      if (conn.state === 'closing') expect(text).toBe('Disconnecting…');
      if (conn.state === 'closed') expect(tone).toBe(conn.closedBy?.kind === 'user' ? 'busy' : 'down');
    },
  }),
);
