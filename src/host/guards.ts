import { describe } from '../errors.js';

type Report = (name: string, error: unknown) => void;

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
