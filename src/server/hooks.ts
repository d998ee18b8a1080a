/**
 * How the server calls the app's hooks and reports failures: app errors go to `onError` (rethrown without it, as
 * an app bug), infrastructure failures are counted and warned about once per kind, never rethrown.
 */
import type { AckServerOptions, AckServerStats } from './options.js';
import type { AckMessage, AckPayload, AckSession } from './types.js';

export function appHooks(options: AckServerOptions, stats: AckServerStats) {
  const rethrow = (error: unknown) =>
    queueMicrotask(() => {
      throw error;
    });
  const report = (error: unknown, session: AckSession | null) => {
    if (!options.onError) {
      rethrow(error);
      return;
    }
    try {
      options.onError(error, session);
    } catch (thrown) {
      rethrow(thrown);
    }
  };

  // Infrastructure failures are not app bugs: without onError they are counted and warned about once per kind
  // (process.emitWarning), never rethrown, so an outage of the store cannot crash the process.
  const warned = new Set<string>();
  const warnOnce = (code: string, message: string) => {
    if (warned.has(code)) return;
    warned.add(code);
    process.emitWarning(message, { code });
  };
  const storeFailure = (error: unknown, session: AckSession | null) => {
    stats.storeFailures++;
    if (options.onError) report(error, session);
    else {
      warnOnce(
        'SOCKETCHART_STORE_FAILED',
        `socketchart: the session store failed (${error instanceof Error ? error.message : String(error)}); the sockets concerned were closed with 1011. Pass onError to attachAckServer to see every failure; stats.storeFailures counts them.`,
      );
    }
  };

  /** The app's onMessage, called as a method; the session awaits what it returns (and reports a rejection). */
  const callOnMessage = (session: AckSession, payload: AckPayload, message: AckMessage): unknown => options.onMessage(session, payload, message);

  /** Runs one of the app's session hooks: what it throws goes to onError, never into the server's own work. */
  function callHook<A extends unknown[]>(hook: ((session: AckSession, ...args: A) => void) | undefined, session: AckSession, ...args: A): void {
    if (!hook) return;
    try {
      hook.call(options, session, ...args);
    } catch (error) {
      report(error, session);
    }
  }

  return { report, warnOnce, storeFailure, callOnMessage, callHook };
}
