import type { SendData } from '../data.js';
import { invalidOption } from '../errors.js';
import { type Assert, type ListsAllKeys, callback, delay, group, whole } from '../validate.js';

/**
 * The options of the batching plug-in (`batching()` from `socketchart/batching`).
 *
 * Coalescing small outbound messages into one frame. Opt-in: it trades up to `window` ms of latency for fewer
 * frames (and fewer syscalls) when an app sends many small messages at once.
 */
export interface BatchingOptions {
  /**
   * Ms to collect messages before the batch is sent.
   * @default 10
   */
  window?: number;
  /**
   * A batch is sent at once when it holds this many messages.
   * @default 100
   */
  maxMessages?: number;
  /**
   * Builds the frame for a batch (e.g. `(frames) => JSON.stringify({ type: 'batch', frames })`). Required: setting
   * it is what turns batching on.
   * @default none
   */
  envelope: (frames: SendData[]) => SendData;
  /**
   * Recognizes an inbound batch and returns its messages (or undefined for an ordinary frame), for servers that
   * batch too. Anything else it returns (null, a string, a number: what a hostile `{"frames": 5}` gives) or throws
   * makes the frame an `invalid-message` event (`ERR_INVALID_DATA`).
   * @default undefined (inbound frames are never split)
   */
  split?: (frame: unknown) => unknown[] | undefined;
}

export type ResolvedBatching = Required<Omit<BatchingOptions, 'split'>> & Pick<BatchingOptions, 'split'>;

export const BATCHING_DEFAULTS = Object.freeze({
  window: 10,
  maxMessages: 100,
});

const KEYS = ['window', 'maxMessages', 'envelope', 'split'] as const;
type _Keys = Assert<ListsAllKeys<BatchingOptions, typeof KEYS>>;

export function resolveBatching(batching: BatchingOptions): ResolvedBatching {
  const expected = 'an object { envelope, window?, maxMessages?, split? }';
  const b = group('batching', batching, KEYS, expected);
  if (b === undefined) throw invalidOption('batching', expected, b);
  if (typeof b.envelope !== 'function') throw invalidOption('batching.envelope', 'a function building one frame from the batched frames', b.envelope);
  const d = BATCHING_DEFAULTS;
  return {
    window: delay('batching.window', b.window, d.window),
    maxMessages: whole('batching.maxMessages', b.maxMessages, d.maxMessages, 1),
    envelope: b.envelope,
    split: callback('batching.split', b.split),
  };
}
