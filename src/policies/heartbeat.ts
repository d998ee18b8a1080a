/**
 * The `heartbeat` option group: dead-connection (half-open, blackhole) detection while open. Type, defaults and
 * resolver; the probing itself runs in src/host/heartbeat.ts (the probe, RTT) and the chart's heartbeat region.
 */
import type { SendData } from '../data.js';
import { invalidOption } from '../errors.js';
import type { Transport } from '../transports/types.js';
import { type Assert, type ListsAllKeys, callback, delay, group, oneOf } from '../validate.js';

export interface HeartbeatOptions {
  /**
   * `protocol`: RFC 6455 ping frames (Node transport; servers answer them without any code). `message`: an
   * app-level ping message and a pong matcher (browsers and Node). `passive`: no ping; any inbound traffic
   * within the timeout proves the connection alive.
   * @default 'protocol' where the transport can ping, otherwise heartbeat is off unless configured
   */
  mode?: 'protocol' | 'message' | 'passive';
  /**
   * Ms between probes.
   * @default 10000
   */
  interval?: number;
  /**
   * Ms a probe waits for a pong (or any message) before the connection is declared dead and replaced.
   * @default 5000
   */
  timeout?: number;
  /**
   * The ping message (mode `message`).
   * @default () => '{"type":"ping"}'
   */
  ping?: () => SendData;
  /**
   * Recognizes a pong (mode `message`); pongs are not delivered to `message` listeners.
   * @default a JSON message with `type: 'pong'`
   */
  isPong?: (data: unknown) => boolean;
}

export interface ResolvedHeartbeat {
  mode: 'protocol' | 'message' | 'passive';
  interval: number;
  timeout: number;
  ping: () => SendData;
  isPong: ((data: unknown) => boolean) | null;
}

export const HEARTBEAT_DEFAULTS = Object.freeze({
  interval: 10_000,
  timeout: 5_000,
});

/** True for a JSON text message whose `type` is `type`; cheap refusal for anything else. */
export function isJsonOfType(data: unknown, type: string): boolean {
  if (typeof data !== 'string' || !data.includes(type)) return false;
  try {
    return (JSON.parse(data) as { type?: unknown })?.type === type;
  } catch {
    return false;
  }
}

const ping = () => '{"type":"ping"}';
const isPong = (data: unknown) => isJsonOfType(data, 'pong');

const KEYS = ['mode', 'interval', 'timeout', 'ping', 'isPong'] as const;
type _Keys = Assert<ListsAllKeys<HeartbeatOptions, typeof KEYS>>;

export function resolveHeartbeat(heartbeat: HeartbeatOptions | false | undefined, transport: Transport): ResolvedHeartbeat | null {
  if (heartbeat === false) return null;
  const h = group('heartbeat', heartbeat, KEYS, 'an object or false');
  const canPing = transport.canPing === true;
  if (h === undefined && !canPing) return null;
  const o = h ?? {};
  const mode = oneOf('heartbeat.mode', o.mode, canPing ? 'protocol' : 'message', ['protocol', 'message', 'passive']);
  if (mode === 'protocol' && !canPing) {
    throw invalidOption('heartbeat.mode', `'message' or 'passive' with the ${transport.name} transport (it cannot send ping frames)`, mode);
  }
  const d = HEARTBEAT_DEFAULTS;
  const interval = delay('heartbeat.interval', o.interval, d.interval);
  const timeout = delay('heartbeat.timeout', o.timeout, d.timeout);
  if (interval === 0 || timeout === 0) throw invalidOption('heartbeat.interval/timeout', 'greater than 0 (use heartbeat: false to turn it off)', 0);
  return {
    mode,
    interval,
    timeout,
    ping: callback('heartbeat.ping', o.ping) ?? ping,
    isPong: mode === 'message' ? (callback('heartbeat.isPong', o.isPong) ?? isPong) : null,
  };
}
