import type { SendData } from '../data.js';

/**
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
  /** Builds the frame for a batch (e.g. `(frames) => JSON.stringify({ type: 'batch', frames })`). */
  envelope: (frames: SendData[]) => SendData;
  /**
   * Recognizes an inbound batch and returns its messages (or undefined for an ordinary frame), for servers that
   * batch too.
   * @default undefined (inbound frames are never split)
   */
  split?: (frame: unknown) => unknown[] | undefined;
}

export type ResolvedBatching = Required<Omit<BatchingOptions, 'split'>> & Pick<BatchingOptions, 'split'>;
