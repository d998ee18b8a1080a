import { SocketchartError, invalidOption } from '../errors.js';
import type { ConnectionOptions, PerAttempt } from '../options.js';

export interface SharedConnectionOptions<In = unknown, Out = unknown> extends ConnectionOptions<In, Out> {
  /**
   * The name of the Web Lock and the BroadcastChannel: tabs that use the same name share one socket. Give every tab
   * the same URL and options; the leader's options are the ones in force (its codec decodes for everyone).
   * @default `socketchart:` followed by the URL (required when `url` is a function)
   */
  name?: string;
}

export function notCloneable(error: unknown): SocketchartError {
  return new SocketchartError(
    'ERR_INVALID_DATA',
    `send() in a shared connection takes messages structured clone can copy to the leader tab (no functions, no DOM nodes): ${(error as Error).message}`,
  );
}

/** The lock and channel name: `options.name`, or one derived from a fixed URL. */
export function lockNameOf(url: PerAttempt<string | URL>, name: unknown): string {
  if (name !== undefined && (typeof name !== 'string' || name === '')) throw invalidOption('name', 'a non-empty string', name);
  if (name === undefined && typeof url === 'function') {
    throw invalidOption('name', 'set when the URL is a function (tabs share by name; a function has none)', name);
  }
  return name ?? `socketchart:${String(url)}`;
}

export function newTabId(): string {
  return typeof crypto !== 'undefined' && typeof crypto.randomUUID === 'function' ? crypto.randomUUID() : `${Date.now()}-${Math.random()}`;
}
