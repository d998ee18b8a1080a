/**
 * The one kit every option check uses, so a rule (what a delay may be, how an error reads) lives in one place.
 * Each helper returns the checked value or the fallback for `undefined`, and throws `ERR_INVALID_OPTION` naming
 * the option and what it must be. Messages stay short: the browser bundle carries them.
 */
import { SocketchartError, invalidOption } from './errors.js';

/** setTimeout's ceiling (2^31 - 1 ms, about 24.8 days): a longer delay fires after about 1 ms in Node and browsers. */
export const MAX_DELAY = 2_147_483_647;

/** True for a delay setTimeout honours: ms in [0, MAX_DELAY] (Infinity where `allowInfinity` means "never"). */
export function isDelay(value: unknown, allowInfinity = false): value is number {
  return typeof value === 'number' && value >= 0 && (value <= MAX_DELAY || (allowInfinity && value === Infinity));
}

const orInfinity = (allow: boolean) => (allow ? ' (or Infinity)' : '');

/** Ms for a timer: 0 to MAX_DELAY (or Infinity for "never" where `allowInfinity`). */
export function delay(name: string, value: unknown, fallback: number, allowInfinity = false): number {
  if (value === undefined) return fallback;
  if (!isDelay(value, allowInfinity)) throw invalidOption(name, `ms from 0 to ${MAX_DELAY}${orInfinity(allowInfinity)}`, value);
  return value;
}

/** A whole number >= `min` (or Infinity for "unbounded" where `allowInfinity`). */
export function whole(name: string, value: unknown, fallback: number, min = 0, allowInfinity = false): number {
  if (value === undefined) return fallback;
  const ok = typeof value === 'number' && value >= min && (Number.isInteger(value) || (allowInfinity && value === Infinity));
  if (!ok) throw invalidOption(name, `a whole number >= ${min}${orInfinity(allowInfinity)}`, value);
  return value;
}

/** A finite number >= `min` (> `min` where `exclusive`): rates and factors, which need not be whole. */
export function finite(name: string, value: unknown, fallback: number, min: number, exclusive = false): number {
  if (value === undefined) return fallback;
  const ok = typeof value === 'number' && Number.isFinite(value) && (exclusive ? value > min : value >= min);
  if (!ok) throw invalidOption(name, `a finite number ${exclusive ? '>' : '>='} ${min}`, value);
  return value;
}

/** One of `allowed`. */
export function oneOf<T extends string>(name: string, value: unknown, fallback: T, allowed: readonly T[]): T {
  if (value === undefined) return fallback;
  if (!allowed.includes(value as T)) throw invalidOption(name, `one of ${allowed.map((a) => `'${a}'`).join(', ')}`, value);
  return value as T;
}

/** A non-empty string. */
export function text(name: string, value: unknown, fallback: string): string {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || value === '') throw invalidOption(name, 'a non-empty string', value);
  return value;
}

/** A boolean. */
export function flag(name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw invalidOption(name, 'a boolean', value);
  return value;
}

/** A callback, or undefined. */
export function callback<F extends (...args: never[]) => unknown>(name: string, value: F | undefined): F | undefined {
  if (value !== undefined && typeof value !== 'function') throw invalidOption(name, 'a function', value);
  return value;
}

/**
 * An option group (`backoff: { ... }`): `undefined`, or a plain object whose every key is one of `keys`.
 * `expected` says what the group must be when it is not an object at all.
 */
export function group<T extends object>(name: string, value: T | undefined, keys: readonly string[], expected = 'an object'): T | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalidOption(name, expected, value);
  knownKeys(name, value, keys);
  return value;
}

/**
 * Refuses a key that is not one of `keys`, naming the closest valid one: a misspelled option (`reconectTimeout`)
 * would otherwise be ignored and its default used without a word.
 */
export function knownKeys(name: string, value: object, keys: readonly string[]): void {
  for (const key of Object.keys(value)) {
    if (keys.includes(key)) continue;
    const prefix = name === '' ? '' : `${name}.`;
    const near = closest(key, keys);
    const hint = near === undefined ? `valid: ${keys.join(', ')}` : `did you mean \`${prefix}${near}\`?`;
    throw new SocketchartError('ERR_INVALID_OPTION', `Unknown option \`${prefix}${key}\`; ${hint}`);
  }
}

/** The candidate nearest to `word` by edit distance (case-insensitive), if it is near enough to be a typo of it. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  const w = word.toLowerCase();
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(w.length / 2)) + 1;
  let bestPrefix = 0;
  for (const candidate of candidates) {
    const c = candidate.toLowerCase();
    const d = editDistance(w, c);
    // On a tie, the longer common prefix wins: `maxRetry` is `maxRetries` cut short, not `maxDelay` misspelled.
    let prefix = 0;
    while (prefix < w.length && w[prefix] === c[prefix]) prefix++;
    if (d < bestDistance || (best !== undefined && d === bestDistance && prefix > bestPrefix)) {
      bestPrefix = prefix;
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

/** Levenshtein distance counting a swap of two neighbours as one edit (optimal string alignment). */
export function editDistance(a: string, b: string): number {
  // Three rows suffice: the swap looks two rows back.
  let prev2: number[] = [];
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min((prev[j] as number) + 1, (row[j - 1] as number) + 1, (prev[j - 1] as number) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, (prev2[j - 2] as number) + 1);
      row.push(d);
    }
    prev2 = prev;
    prev = row;
  }
  return prev[b.length] as number;
}

/** Compile-time only: `true` when `K` lists every key of `T` and nothing else (so a key list cannot drift). */
export type ListsAllKeys<T, K extends readonly PropertyKey[]> =
  [Exclude<keyof T, K[number]>, Exclude<K[number], keyof T>] extends [never, never] ? true : false;
/** `type _Check = Assert<ListsAllKeys<...>>` fails to compile when the list is wrong. */
export type Assert<T extends true> = T;
