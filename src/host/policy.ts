/**
 * What the host hands the chart besides sockets: the lifecycle policy (data, and the app's callbacks made safe),
 * timers on the connection's clock, and the network/visibility signals as chart events.
 */
import type { ConnectionHost, ConnectionPolicy } from '../../machines/connection.js';
import { describe } from '../errors.js';
import type { ConnectionClock, ConnectionOptions, ResolvedOptions } from '../options.js';
import type { Timers } from '../plugins/types.js';
import type { EnvironmentSource } from '../policies/environment.js';

type Report = (name: string, error: unknown) => void;

/**
 * The lifecycle rules the chart applies (its context's `policy`), from the resolved options: data only.
 */
export function connectionPolicy(options: ConnectionOptions, resolved: ResolvedOptions): ConnectionPolicy {
  return {
    backoff: resolved.backoff,
    connectTimeout: resolved.connectTimeout,
    closeTimeout: resolved.closeTimeout,
    waitsForRetryHook: options.retryWait !== undefined,
    auth: resolved.auth
      ? { byMessage: resolved.auth.mode === 'message', timeout: resolved.auth.timeout, refreshCodes: resolved.auth.refreshCodes }
      : null,
    // The chart's two figures only: the resolved group also holds the app's ping message and pong matcher.
    heartbeat: resolved.heartbeat ? { interval: resolved.heartbeat.interval, timeout: resolved.heartbeat.timeout } : null,
  };
}

/** The app's callbacks the chart's guards and actions call (through the host), each made safe. */
export function chartCallbacks(options: ConnectionOptions, report: Report): Pick<ConnectionHost, 'closeCodes' | 'shouldReconnect' | 'random'> {
  return {
    closeCodes: guarded('closeCodes', options.closeCodes, undefined, report),
    shouldReconnect: guarded('shouldReconnect', options.shouldReconnect, true, report),
    random: options.random ? jitter(options.random, report) : Math.random,
  };
}

/**
 * A user callback the chart's guards call, made safe: if it throws, the connection reports the error (as an
 * `error` event, after the transition) and goes on with `fallback` instead of dying mid-transition.
 */
export function guarded<A extends unknown[], R>(name: string, fn: ((...args: A) => R) | undefined | object, fallback: R, report: Report): ((...args: A) => R) | undefined {
  if (typeof fn !== 'function') return fn as undefined;
  const call = fn as (...args: A) => R;
  return (...args: A) => {
    try {
      return call(...args);
    } catch (error) {
      report(name, error);
      return fallback;
    }
  };
}

/** The app's `random` as the backoff's jitter source: a value outside [0, 1) or a throw is reported, 0.5 used. */
export function jitter(random: () => number, report: Report): () => number {
  return () => {
    try {
      const r = random();
      if (typeof r === 'number' && r >= 0 && r < 1) return r;
      throw new TypeError(`random() must return a number in [0, 1); got ${describe(r)}`);
    } catch (error) {
      report('random', error);
      return 0.5;
    }
  };
}

/** Timers on the connection's clock: the injected one (tests drive it), else the global timers. */
export function timersOf(clock: ConnectionClock | undefined): Timers {
  if (clock) return { setTimeout: (fn, ms) => clock.setTimeout(fn, ms), clearTimeout: (id) => clock.clearTimeout(id as never) };
  return { setTimeout: (fn, ms) => setTimeout(fn, ms), clearTimeout: (id) => clearTimeout(id as ReturnType<typeof setTimeout>) };
}

/** The network and page visibility as chart events (the chart decides what they mean); returns the unsubscribe. */
export function watchEnvironment(environment: EnvironmentSource, chart: { send(event: { type: 'NETWORK.ONLINE' | 'NETWORK.OFFLINE' | 'PAGE.VISIBLE' }): void }): () => void {
  return environment.subscribe({
    online: () => chart.send({ type: 'NETWORK.ONLINE' }),
    offline: () => chart.send({ type: 'NETWORK.OFFLINE' }),
    visible: () => chart.send({ type: 'PAGE.VISIBLE' }),
  });
}
