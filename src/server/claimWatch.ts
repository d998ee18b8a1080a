import type { StoreNotice } from './store.js';

interface Watch {
  claims: number;
  lostAt: number;
}

/**
 * "lost" notices heard while a claim of this node is on its way, by session: the highest epoch each names. A notice
 * travels on the subscriber connection and can overtake the claim's reply; without this, the node would attach
 * with an epoch another node already superseded and act for the session until its next fenced call.
 */
export class ClaimWatch {
  readonly #inFlight = new Map<string, Watch>();

  /** A claim of `key` starts; pass the result to `end` when it is answered. */
  start(key: string): Watch {
    let watch = this.#inFlight.get(key);
    if (watch === undefined) this.#inFlight.set(key, (watch = { claims: 0, lostAt: 0 }));
    watch.claims++;
    return watch;
  }

  /** The claim was answered: the highest epoch another node claimed meanwhile (0: none). */
  end(key: string, watch: Watch): number {
    if (--watch.claims === 0 && this.#inFlight.get(key) === watch) this.#inFlight.delete(key);
    return watch.lostAt;
  }

  heard(notice: StoreNotice): void {
    if (notice.type !== 'lost') return;
    const watch = this.#inFlight.get(notice.id);
    if (watch !== undefined && notice.epoch > watch.lostAt) watch.lostAt = notice.epoch;
  }
}
