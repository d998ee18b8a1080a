/**
 * Which follower tab sent each message the leader relayed, so a `drop` the leader's connection reports later
 * (`unconfirmed` after a lost socket, `closed`, `queue-full` under backpressure) reaches the tab that sent it.
 *
 * Looked up by the message value the connection reports: the very object the leader passed to `send()`, or for a
 * string the same text (identical strings from two tabs may then be reported to either; one of them sent it).
 * Bounded: past `limit` relayed messages the oldest are forgotten, and a drop for one of those is reported in the
 * leader's tab instead (still reported, never silent). The default is what the connection itself can report after
 * a socket ends: its unconfirmed log (1,000) and its queue (1,000).
 */
export const ORIGIN_LIMIT = 2000;

/** Where a relayed message came from: the tab, and its number in that tab's sends (0: not known). */
export interface Origin {
  readonly tab: string;
  readonly seq: number;
}

interface Entry extends Origin {
  readonly value: unknown;
  taken: boolean;
}

export class OriginLog {
  readonly #limit: number;
  readonly #order: Entry[] = [];
  #head = 0;
  readonly #byValue = new Map<unknown, Entry[]>();

  constructor(limit = ORIGIN_LIMIT) {
    this.#limit = limit;
  }

  get size(): number {
    return this.#order.length - this.#head;
  }

  add(value: unknown, tab: string, seq = 0): void {
    const entry: Entry = { value, tab, seq, taken: false };
    this.#order.push(entry);
    const list = this.#byValue.get(value);
    if (list) list.push(entry);
    else this.#byValue.set(value, [entry]);
    if (this.size > this.#limit) this.#evict();
  }

  /** Where `value` came from (the oldest such relay), forgotten from now on; undefined if not relayed. */
  take(value: unknown): Origin | undefined {
    const list = this.#byValue.get(value);
    const entry = list?.shift();
    if (!entry || !list) return undefined;
    if (list.length === 0) this.#byValue.delete(value);
    entry.taken = true;
    return entry;
  }

  #evict(): void {
    const entry = this.#order[this.#head++] as Entry;
    if (!entry.taken) {
      const list = this.#byValue.get(entry.value);
      list?.shift();
      if (list?.length === 0) this.#byValue.delete(entry.value);
    }
    // Compact now and then instead of shifting the array on every relay.
    if (this.#head > 1024 && this.#head * 2 > this.#order.length) {
      this.#order.splice(0, this.#head);
      this.#head = 0;
    }
  }
}
