import type { Connection, ConnectionEventMap } from '../../src/index.js';

// The helpers work with any message types; they only listen.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyConnection = Connection<any, any>;

/** Resolves with the next event of `type` the connection fires. */
export function nextEvent<K extends keyof ConnectionEventMap>(
  conn: AnyConnection,
  type: K,
  predicate: (event: ConnectionEventMap[K]) => boolean = () => true,
): Promise<ConnectionEventMap[K]> {
  return new Promise((resolve) => {
    const listener = (event: ConnectionEventMap[K]) => {
      if (!predicate(event)) return;
      conn.removeEventListener(type, listener);
      resolve(event);
    };
    conn.addEventListener(type, listener);
  });
}

/** Resolves when the connection's state path starts with `path`. */
export function reachState(conn: AnyConnection, path: string): Promise<void> {
  if (conn.matches(path)) return Promise.resolve();
  return nextEvent(conn, 'statechange', () => conn.matches(path)).then(() => undefined);
}

/** Records every event of the given types, in order, as short strings. */
export function recordEvents(conn: AnyConnection, types: Array<keyof ConnectionEventMap>): string[] {
  const log: string[] = [];
  for (const type of types) {
    conn.addEventListener(type, (event) => {
      const e = event as unknown as Record<string, unknown>;
      if (type === 'statechange') log.push(`statechange:${e.from}->${e.to}`);
      else if (type === 'close') log.push(`close:${e.code}`);
      else if (type === 'message') log.push(`message:${String(e.data)}`);
      else if (type === 'drop') log.push(`drop:${e.reason}:${String(e.data)}`);
      else log.push(type);
    });
  }
  return log;
}
