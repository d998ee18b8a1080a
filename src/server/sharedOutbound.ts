/**
 * A shared-store session's server messages (session.ts): its copy of what the store holds and the client has not
 * acknowledged, written in seq order at the pace the socket drains (`maxSocketBuffer`), with the seqs other nodes
 * stored fetched from the store first; acks trim the store, one call in flight at a time.
 */
import { WebSocket } from 'ws';
import { ACK_CLOSE_CODES, BINARY_HEADER_BYTES, writeSeq } from '../delivery/protocol.js';
import type { SharedSession } from './session.js';
import type { SharedContext } from './sharedContext.js';
import { type UnackedMessage, isGap } from './store.js';
import { type Link, bytesOfPayload } from './types.js';

export class SharedOutbound {
  readonly #s: SharedSession;
  readonly #c: SharedContext;
  /** One trim in flight at a time; acks meanwhile only raise `#trimTo` (a flood of acks is one call per round trip). */
  #trimming = false;
  #trimTo = 0;
  /** Server messages the store holds and the client has not acknowledged, by seq (consecutive from `#firstOut`). */
  readonly #out = new Map<number, string | Uint8Array>();
  #firstOut = 1;
  /** One past the highest seq this node knows was stored. */
  #nextOut = 1;
  #bytes = 0;
  #nextToWrite = 1;
  #blocked = false;
  #filling = false;
  readonly #flushed = (): void => {
    if (!this.#blocked) return;
    this.#blocked = false;
    this.pump();
  };

  constructor(session: SharedSession, context: SharedContext) {
    this.#s = session;
    this.#c = context;
  }

  /** The unacknowledged messages this node holds, by seq. */
  get log(): ReadonlyMap<number, string | Uint8Array> {
    return this.#out;
  }

  get bytes(): number {
    return this.#bytes;
  }

  /** The first seq the client has not acknowledged (the welcome's `replay`). */
  get first(): number {
    return this.#firstOut;
  }

  /** Take the messages the store gave this node's claim (never a local copy: it may be stale). */
  reset(claim: { nextOut: number; unacked: UnackedMessage[] }): void {
    this.#trimTo = claim.unacked[0] ? claim.unacked[0].seq - 1 : claim.nextOut - 1;
    this.#out.clear();
    this.#bytes = 0;
    for (const m of claim.unacked) {
      this.#out.set(m.seq, m.payload);
      this.#bytes += bytesOfPayload(m.payload);
    }
    this.#firstOut = claim.unacked[0]?.seq ?? claim.nextOut;
    this.#nextOut = claim.nextOut;
  }

  /** The socket is attached and welcomed: write from the first unacknowledged message on. */
  start(): void {
    this.#nextToWrite = this.#firstOut;
    this.#blocked = false;
    this.pump();
  }

  clear(): void {
    this.#out.clear();
    this.#bytes = 0;
  }

  acked(link: Link, ack: number): void {
    if (ack > this.#nextOut - 1) {
      this.#c.fail(link, ACK_CLOSE_CODES.protocolError, `ack ${ack} beyond the last seq sent (${this.#nextOut - 1})`);
      return;
    }
    if (ack < this.#firstOut) return;
    for (let seq = this.#firstOut; seq <= ack; seq++) {
      const payload = this.#out.get(seq);
      if (payload !== undefined) this.#bytes -= bytesOfPayload(payload);
      this.#out.delete(seq);
    }
    this.#firstOut = ack + 1;
    if (ack > this.#trimTo) this.#trimTo = ack;
    this.#trim();
  }

  #trim(): void {
    if (this.#trimming || this.#s.state !== 'attached') return;
    const epoch = this.#s.epoch;
    const ack = this.#trimTo;
    this.#trimming = true;
    this.#c.store.trim(this.#s.id, epoch, ack).then(
      (result) => {
        this.#trimming = false;
        if (result === 'stale') this.#s.staleAt(epoch);
        else if (result === 'missing') this.#s.missingAt(epoch);
        else if (this.#trimTo > ack) this.#trim();
      },
      (error) => {
        this.#trimming = false;
        this.#c.storeFailure(error, this.#s);
      },
    );
  }

  /** Another node stored seq `seq` (`SharedSession.noticeOut()`). */
  noticeOut(seq: number): void {
    if (this.#s.state !== 'attached') return;
    if (seq >= this.#nextOut) this.#nextOut = seq + 1;
    this.pump();
  }

  learn(seq: number, stored: string | Uint8Array): void {
    if (seq < this.#firstOut || this.#out.has(seq)) return;
    this.#out.set(seq, stored);
    this.#bytes += bytesOfPayload(stored);
    if (seq >= this.#nextOut) this.#nextOut = seq + 1;
    this.pump();
  }

  /**
   * Writes stored messages in seq order while the socket's buffer is under `maxSocketBuffer`. A seq this node has
   * not got (stored by another node) is fetched from the store first.
   */
  pump(): void {
    const ws = this.#s.link?.ws;
    if (this.#s.state !== 'attached' || !ws || ws.readyState !== WebSocket.OPEN) return;
    if (this.#nextToWrite < this.#firstOut) this.#nextToWrite = this.#firstOut;
    while (this.#nextToWrite < this.#nextOut) {
      const payload = this.#out.get(this.#nextToWrite);
      if (payload === undefined) {
        this.#fill();
        return;
      }
      if (ws.bufferedAmount >= this.#c.limits.maxSocketBuffer) {
        this.#blocked = true;
        return;
      }
      const seq = this.#nextToWrite++;
      if (typeof payload === 'string') ws.send(`${seq}:${payload}`, this.#flushed);
      else {
        const frame = Buffer.allocUnsafe(BINARY_HEADER_BYTES + payload.byteLength);
        writeSeq(frame, seq);
        frame.set(payload, BINARY_HEADER_BYTES);
        ws.send(frame, this.#flushed);
      }
    }
  }

  #fill(): void {
    if (this.#filling) return;
    this.#filling = true;
    const from = this.#nextToWrite;
    const to = this.#nextOut - 1;
    const epoch = this.#s.epoch;
    this.#c.store.read(this.#s.id, epoch, from, to).then(
      (messages) => {
        this.#filling = false;
        if (messages === 'stale') {
          this.#s.staleAt(epoch);
          return;
        }
        if (messages === 'missing') {
          this.#s.missingAt(epoch);
          return;
        }
        if (isGap(messages)) {
          // Read with the epoch this node holds: it owned the session when the store removed it.
          if (epoch === this.#s.epoch) this.#s.storeLost(messages);
          return;
        }
        for (const m of messages) {
          if (m.seq >= this.#firstOut && !this.#out.has(m.seq)) {
            this.#out.set(m.seq, m.payload);
            this.#bytes += bytesOfPayload(m.payload);
          }
        }
        if (this.#out.has(this.#nextToWrite)) this.pump();
      },
      (error) => {
        this.#filling = false;
        this.#c.storeFailure(error, this.#s);
      },
    );
  }
}
