/**
 * Plain mode (no `delivery`): a follower's sends the leader wrote on its socket but has not confirmed yet, kept so
 * that this tab can report them if that leader goes away without reporting them itself (its page crashed or closed).
 *
 * Plain mode confirms a write the way one tab does (policies/unconfirmed.ts): a pong, or a clean close the client
 * started; a socket that dies first has its unconfirmed writes reported as `drop` (reason `unconfirmed`). The leader
 * reports those of a follower to it while it lives and tells it when the rest are settled (`settled`); a leader
 * whose page goes away can do neither, so its followers report what it left unsettled, as `unconfirmed` (they may
 * or may not have arrived), and do not send them again, as one tab does not.
 *
 * Bounded as the unconfirmed log is (`unconfirmed.maxMessages`, `maxBytes` of this tab's options): past them the
 * oldest are no longer kept, and could not be reported. `unconfirmed: false` keeps nothing.
 */
import { type SendData, byteLengthOf } from '../data.js';
import type { ResolvedUnconfirmed } from '../policies/unconfirmed.js';
import type { Backlogged } from './backlog.js';

interface Entry {
  /** The leader tab that acknowledged it. */
  leader: string;
  seq: number;
  data: SendData;
  message: unknown;
}

export class Unsettled {
  readonly #limits: ResolvedUnconfirmed | null;
  readonly #report: (data: SendData, message: unknown) => void;
  #entries: Entry[] = [];
  #bytes = 0;
  /** Per leader whose sends this tab reported itself, the highest reported: its late drop reports are not repeated. */
  readonly #reportedUpTo = new Map<string, number>();

  constructor(limits: ResolvedUnconfirmed | null, report: (data: SendData, message: unknown) => void) {
    this.#limits = limits;
    this.#report = report;
  }

  get length(): number {
    return this.#entries.length;
  }

  /** `leader` acknowledged these sends: it wrote them (or gave them to its connection). */
  add(leader: string, acked: readonly Backlogged[]): void {
    const limits = this.#limits;
    if (limits === null) return;
    for (const { seq, data, message } of acked) {
      this.#entries.push({ leader, seq, data, message });
      this.#bytes += byteLengthOf(data);
    }
    while (this.#entries.length > 1 && (this.#entries.length > limits.maxMessages || this.#bytes > limits.maxBytes)) {
      this.#bytes -= byteLengthOf((this.#entries.shift() as Entry).data);
    }
  }

  /** `leader` confirmed or reported every send up to `seq`. */
  settle(leader: string, seq: number): void {
    this.#keep((e) => e.leader !== leader || e.seq > seq);
  }

  /** `leader` reported send `seq` dropped. Returns false when this tab reported it already (the leader's report came late). */
  dropped(leader: string, seq: number): boolean {
    if (seq <= (this.#reportedUpTo.get(leader) ?? 0)) return false;
    this.#keep((e) => e.leader !== leader || e.seq !== seq);
    return true;
  }

  /** `leader` closed its handle and its connection reports what it cannot confirm: nothing left to do here. */
  forget(leader: string): void {
    this.#keep((e) => e.leader !== leader);
  }

  /** Report, as `unconfirmed`, what the leaders `gone` accepts acknowledged and left unsettled; all with no argument. */
  orphan(gone: (leader: string) => boolean = () => true): void {
    const orphans = this.#entries.filter((e) => gone(e.leader));
    if (orphans.length === 0) return;
    this.#keep((e) => !gone(e.leader));
    for (const e of orphans) {
      if (e.seq > (this.#reportedUpTo.get(e.leader) ?? 0)) this.#reportedUpTo.set(e.leader, e.seq);
      this.#report(e.data, e.message);
    }
  }

  #keep(keep: (e: Entry) => boolean): void {
    if (this.#entries.length === 0) return;
    this.#entries = this.#entries.filter(keep);
    this.#bytes = 0;
    for (const e of this.#entries) this.#bytes += byteLengthOf(e.data);
  }
}
