/**
 * `socketchart/batching`: small outbound messages sent within `window` ms go as one frame built by `envelope`;
 * inbound batches are split with `split`.
 *
 *   import { batching } from 'socketchart/batching';
 *   createConnection(url, { batching: batching({ envelope: (frames) => JSON.stringify(frames) }) });
 */
import { type SendData, assertSendData } from '../data.js';
import { SocketchartError } from '../errors.js';
import { type BatchingOptions, BATCHING_DEFAULTS, resolveBatching } from '../messages/batching.js';
import { BatchOrigin } from '../policies/queue.js';
import type { Batcher, BatchingPlugin, PluginHost } from './types.js';

export { BATCHING_DEFAULTS, type BatchingOptions };
export type { BatchingPlugin } from './types.js';

/** The batching plug-in for `createConnection(url, { batching: batching(options) })`. Checks `options` now. */
export function batching(options: BatchingOptions): BatchingPlugin {
  const resolved = resolveBatching(options);
  return { kind: 'batching', create: (host) => new Batch(host, resolved) };
}

const NONE = Object.freeze([]) as never[];

class Batch implements Batcher {
  readonly #host: PluginHost;
  readonly #options: ReturnType<typeof resolveBatching>;
  readonly split: Batcher['split'];
  /** Frames collected for the next batch, and the timer that sends it. */
  #frames: SendData[] = NONE;
  /** What was passed to send() for each of them; under the raw codec the same array as `#frames`. */
  #messages: unknown[] = NONE;
  #timer: unknown = null;

  constructor(host: PluginHost, options: ReturnType<typeof resolveBatching>) {
    this.#host = host;
    this.#options = options;
    this.split = options.split;
  }

  add(data: SendData, message: unknown): void {
    if (this.#frames === NONE) {
      this.#frames = [];
      // Under the raw codec each message is its own frame: one array serves as both.
      this.#messages = this.#host.raw ? this.#frames : [];
    }
    this.#frames.push(data);
    if (this.#messages !== this.#frames) this.#messages.push(message);
    if (this.#frames.length >= this.#options.maxMessages) this.flush();
    else if (this.#timer === null) this.#timer = this.#host.timers().setTimeout(() => this.flush(), this.#options.window);
  }

  /** Empties the batch: its frames and their messages. */
  #take(): [SendData[], unknown[]] {
    if (this.#timer !== null) this.#host.timers().clearTimeout(this.#timer);
    this.#timer = null;
    const taken: [SendData[], unknown[]] = [this.#frames, this.#messages];
    this.#frames = NONE;
    this.#messages = NONE;
    return taken;
  }

  /** Sends what the batch holds now, as one frame (a batch of one goes as itself). */
  flush(): void {
    const [frames, messages] = this.#take();
    if (frames.length === 0) return;
    const host = this.#host;
    let frame: SendData;
    try {
      frame = frames.length === 1 ? (frames[0] as SendData) : this.#options.envelope(frames);
      assertSendData(frame);
    } catch (error) {
      // The envelope failed: nothing of the batch can be sent; each message is reported.
      host.reportCallbackError('batching.envelope', error);
      host.reportDrops(frames, messages, 'closed');
      return;
    }
    try {
      host.sendFrame(frame, undefined, frames.length === 1 ? messages[0] : new BatchOrigin(frames, messages));
    } catch (error) {
      // Only a full queue under overflow 'reject' refuses a frame, and no send() is there to throw to: report.
      if (!(error instanceof SocketchartError && error.code === 'ERR_QUEUE_FULL')) throw error;
      host.reportDrops(frames, messages, 'queue-full');
    }
  }

  intoQueue(): void {
    const [frames, messages] = this.#take();
    for (let i = 0; i < frames.length; i++) this.#host.enqueue(frames[i] as SendData, messages[i]);
  }

  drop(): void {
    const [frames, messages] = this.#take();
    if (frames.length > 0) this.#host.reportDrops(frames, messages, 'closed');
  }
}
