/**
 * Messages the server sent on a socket before it opened for the app (during `authenticating`), kept in arrival
 * order until `open` fires. Bounded like the outbound queue: past `maxMessages` or `maxBytes` the caller reports
 * the message instead of holding it. O(1) per message: a head index, not an array rebuilt per shift.
 */
export class HeldMessages {
  readonly #maxMessages: number;
  readonly #maxBytes: number;
  #items: unknown[] = [];
  #head = 0;
  #bytes = 0;

  constructor(maxMessages: number, maxBytes: number) {
    this.#maxMessages = maxMessages;
    this.#maxBytes = maxBytes;
  }

  get size(): number {
    return this.#items.length - this.#head;
  }

  /** Holds `data` (of `bytes` bytes) unless that would pass a bound; false means it was not held. */
  hold(data: unknown, bytes: number): boolean {
    if (this.size >= this.#maxMessages || this.#bytes + bytes > this.#maxBytes) return false;
    this.#items.push(data);
    this.#bytes += bytes;
    return true;
  }

  /** The oldest held message (undefined when empty). Byte accounting is released as a whole by clear(). */
  shift(): unknown {
    if (this.#head >= this.#items.length) return undefined;
    const data = this.#items[this.#head];
    this.#items[this.#head++] = undefined;
    if (this.#head === this.#items.length) this.clear();
    return data;
  }

  clear(): void {
    this.#items = [];
    this.#head = 0;
    this.#bytes = 0;
  }
}
