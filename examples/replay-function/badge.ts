/**
 * An app's connection badge: the text and tone a header shows for a connection. A plain function of what the
 * connection exposes, tested over every path of the connection chart in badge.test.ts.
 */
import type { Connection } from '../../src/index.js'; // in your app: from 'socketchart'

export interface Badge {
  text: string;
  tone: 'ok' | 'busy' | 'down';
}

type Shown = Pick<Connection<unknown, unknown>, 'state' | 'readyState' | 'closedBy'>;

/** Works with any `Connection<In, Out>`: it reads only the state, readyState and closedBy. */
export function badge(conn: Shown): Badge {
  if (conn.readyState === 1) return { text: 'Online', tone: 'ok' };
  if (conn.state === 'closing') return { text: 'Disconnecting…', tone: 'busy' };
  if (conn.state === 'reconnecting.waitingForNetwork') return { text: 'Offline: waiting for the network', tone: 'down' };
  if (conn.state.startsWith('reconnecting')) return { text: 'Reconnecting…', tone: 'busy' };
  if (conn.state.startsWith('connecting')) return { text: 'Connecting…', tone: 'busy' };
  if (conn.state === 'closed') {
    return conn.closedBy?.kind === 'user' ? { text: 'Disconnected', tone: 'busy' } : { text: `Connection lost (${conn.closedBy?.kind})`, tone: 'down' };
  }
  return { text: 'Not connected', tone: 'busy' };
}
