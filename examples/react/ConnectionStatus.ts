/**
 * A connection's status in React, straight from its statechart: `conn.actor` is an XState actor, so
 * `useSelector(conn.actor, selector)` from `@xstate/react` re-renders when what the selector returns changes.
 *
 * Written with `createElement` (as `h`) so it type-checks without a JSX setting; in a JSX project it is
 * `<div className={...}>...</div>`, the same calls.
 */
import { useSelector } from '@xstate/react';
import { createElement as h } from 'react';
import type { Connection } from '../../src/index.js'; // in your app: from 'socketchart'

type ChartSnapshot = ReturnType<Connection['actor']['getSnapshot']>;

export type Tone = 'ok' | 'wait' | 'bad';

/** A word for the badge. `matches` takes the chart's own state values, so a typo here fails type-checking. */
export function statusOf(s: ChartSnapshot): string {
  if (s.matches({ attempt: 'open' })) return 'open';
  if (s.matches({ attempt: 'connecting' })) return 'connecting';
  if (s.matches({ attempt: 'closing' })) return 'closing';
  if (s.matches({ reconnecting: 'waitingForNetwork' })) return 'offline';
  if (s.matches('reconnecting')) return 'reconnecting';
  if (s.matches('closed')) return 'closed';
  return 'idle';
}

/** The line under the badge, from the chart's context. */
export function detailOf(s: ChartSnapshot): string {
  const { context } = s;
  if (s.matches({ attempt: 'open' })) return 'Ready to communicate';
  if (s.matches({ attempt: 'connecting' })) return `Attempt ${context.attempts}`;
  if (s.matches({ reconnecting: 'backoff' })) return `Retry ${context.retries} in ${context.retryDelay} ms`;
  if (s.matches('closed') && context.closedBy) return `Closed (${context.closedBy.kind}): ${context.closedBy.code}`;
  return '';
}

/** `readyState` is declared in the chart as tags, one per WebSocket constant. */
export function toneOf(s: ChartSnapshot): Tone {
  if (s.hasTag('OPEN')) return 'ok';
  if (s.hasTag('CLOSING') || s.hasTag('CLOSED')) return 'bad';
  return 'wait';
}

const COLORS: Record<Tone, string> = { ok: '#15803d', wait: '#b45309', bad: '#b91c1c' };

export interface ConnectionStatusProps {
  /** Any connection: only its actor and its `reconnect()` / `close()` are used. */
  conn: Pick<Connection, 'actor' | 'reconnect' | 'close'>;
}

export function ConnectionStatus({ conn }: ConnectionStatusProps) {
  // Each selector returns a primitive, so the component re-renders only when the status text changes,
  // not on every snapshot (the heartbeat moves the chart every few seconds while open).
  const status = useSelector(conn.actor, statusOf);
  const detail = useSelector(conn.actor, detailOf);
  const tone = useSelector(conn.actor, toneOf);

  return h(
    'section',
    { className: 'connection-status', 'data-status': status, style: { fontFamily: 'system-ui, sans-serif' } },
    h(
      'span',
      {
        role: 'status',
        style: { background: COLORS[tone], color: '#fff', padding: '2px 10px', borderRadius: 6, fontWeight: 700 },
      },
      status,
    ),
    ' ',
    h('span', { className: 'detail' }, detail),
    h(
      'div',
      { style: { marginTop: 8, display: 'flex', gap: 8 } },
      h('button', { type: 'button', onClick: () => conn.reconnect() }, 'Reconnect now'),
      h('button', { type: 'button', onClick: () => conn.close(1000, 'closed from the page'), disabled: status === 'closed' }, 'Close'),
    ),
  );
}
