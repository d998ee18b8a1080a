/**
 * An app's connection status indicator: what a status dot in a header shows for each state of the connection.
 * A pure function of what the connection exposes (`conn.state`, `conn.closedBy`), so it can be tested over every
 * path the chart allows without any socket (see README.md).
 */
import type { ClosedReason } from '../../src/index.js'; // in your app: from 'socketchart'

export type StatusColor = 'green' | 'amber' | 'red' | 'grey';

export interface Status {
  color: StatusColor;
  label: string;
}

export interface StatusInput {
  /** `conn.state`. */
  state: string;
  /** `conn.closedBy?.kind` (only read in `closed`). */
  closedBy?: ClosedReason['kind'] | undefined;
}

const BY_STATE: Readonly<Record<string, Status>> = {
  idle: { color: 'grey', label: 'Not connected' },
  'connecting.opening': { color: 'amber', label: 'Connecting…' },
  'connecting.authenticating': { color: 'amber', label: 'Signing in…' },
  open: { color: 'green', label: 'Connected' },
  closing: { color: 'grey', label: 'Disconnecting…' },
  'reconnecting.backoff': { color: 'amber', label: 'Reconnecting…' },
  'reconnecting.waitingForNetwork': { color: 'red', label: 'Offline: waiting for the network' },
};

const BY_CLOSE: Readonly<Record<ClosedReason['kind'], Status>> = {
  user: { color: 'grey', label: 'Disconnected' },
  auth: { color: 'red', label: 'Sign-in failed' },
  server: { color: 'red', label: 'Disconnected by the server' },
  fatal: { color: 'red', label: 'Connection refused' },
  giveup: { color: 'red', label: 'Cannot reach the server' },
  error: { color: 'red', label: 'Connection misconfigured' },
};

/**
 * The indicator for a connection state. Throws for a state it does not know, so that a new state of the chart
 * fails the indicator's tests (which walk every state) instead of showing something wrong.
 */
export function statusIndicator({ state, closedBy }: StatusInput): Status {
  if (state === 'closed') {
    const status = closedBy ? BY_CLOSE[closedBy] : undefined;
    if (!status) throw new Error(`No indicator for a close of kind ${String(closedBy)}`);
    return status;
  }
  const status = BY_STATE[state];
  if (!status) throw new Error(`No indicator for connection state ${JSON.stringify(state)}`);
  return status;
}
