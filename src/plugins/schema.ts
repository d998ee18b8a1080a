/**
 * `socketchart/schema`: every decoded inbound message is checked by a Standard Schema validator (zod, valibot,
 * arktype); rejected ones become `invalid-message` events, never `message` events.
 *
 *   import { schema } from 'socketchart/schema';
 *   const conn = createConnection(url, { codec: jsonCodec(), schema: schema(ServerMessage) });
 */
import { SocketchartError, describe, invalidOption } from '../errors.js';
import { type StandardResult, type StandardSchemaV1, isStandardSchema } from '../messages/schema.js';
import { sizeOf } from '../metrics.js';
import type { PluginHost, SchemaPlugin, Validator } from './types.js';

export type { StandardResult, StandardSchemaV1 };
export type { SchemaPlugin } from './types.js';

/** The schema plug-in for `createConnection(url, { schema: schema(validator) })`; `In` is the validator's output. */
export function schema<In>(validator: StandardSchemaV1<unknown, In>): SchemaPlugin<In> {
  if (!isStandardSchema(validator)) throw invalidOption('schema', 'a Standard Schema validator (zod, valibot, arktype, ...)', validator);
  return { kind: 'schema', create: (host) => new Validation(host, validator) };
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (typeof value === 'object' || typeof value === 'function') && value !== null && typeof (value as { then?: unknown }).then === 'function';
}


class Validation implements Validator {
  readonly #host: PluginHost;
  readonly #schema: StandardSchemaV1;
  /** The tail of the chain that keeps async validations in arrival order; null when nothing waits. */
  #validating: Promise<void> | null = null;
  /** Messages in the chain (the one being validated included) and their bytes, bounded like the queue. */
  #waiting = 0;
  #waitingBytes = 0;
  /** The frames in the chain, oldest first: what `ended()` hands back. */
  #waitingFrames: unknown[] = [];
  /** Bumped when the session ends: a validation begun in an earlier session neither delivers nor reports. */
  #session = 0;

  constructor(host: PluginHost, schema: StandardSchemaV1) {
    this.#host = host;
    this.#schema = schema;
  }

  accept(data: unknown, message: unknown, at: number): void {
    if (this.#validating) {
      // A validator slower than the server's messages would otherwise hold every message the server sends.
      const bytes = sizeOf(data);
      const { maxMessages, maxBytes } = this.#host.inboundBounds;
      if (this.#waiting >= maxMessages || this.#waitingBytes + bytes > maxBytes) {
        const problem = new SocketchartError(
          'ERR_QUEUE_FULL',
          `${this.#waiting} messages (${this.#waitingBytes} bytes) were waiting for the schema's async validation; this one was discarded, not validated (the bounds are queue.maxMessages ${maxMessages} and queue.maxBytes ${maxBytes}: the validator is slower than the server's messages).`,
        );
        this.#host.invalid(data, problem, message);
        return;
      }
      this.#later(data, message, at, bytes);
      return;
    }
    let result: unknown;
    try {
      result = this.#schema['~standard'].validate(message);
    } catch (error) {
      this.#host.invalid(data, error, message);
      return;
    }
    // Any thenable, not only a Promise: one that is not would otherwise be read as a result without a value.
    if (isThenable(result)) {
      // Nothing waits before it: it is taken whatever its size (it is held already, as the frame just received).
      this.#later(data, message, at, sizeOf(data), result);
      return;
    }
    this.#settle(data, message, at, result);
  }

  /** Delivers or refuses a message by its validation result; a value that is no result refuses it too. */
  #settle(data: unknown, message: unknown, at: number, result: unknown): void {
    const host = this.#host;
    if (typeof result !== 'object' || result === null) {
      // Read as a result it would throw (null.issues) out of the socket's message handler, or deliver `undefined`.
      const problem = new SocketchartError(
        'ERR_INVALID_DATA',
        `The schema's validate() returned ${describe(result)}; a Standard Schema validator returns { value } or { issues } (or a promise of one). The message was not delivered.`,
      );
      host.invalid(data, problem, message);
      return;
    }
    const r = result as StandardResult<unknown>;
    if (r.issues) host.invalid(data, r.issues, message);
    else host.route(r.value, at, message);
  }

  /**
   * Async validation, chained so messages keep their arrival order. A validator that rejects makes that message
   * invalid, not the chain. A message whose socket ended while it waited is still delivered (it was received; with
   * `atLeastOnce()` it was acknowledged too, and the server will not send it again); when the session ends, every
   * one still waiting is handed back by `ended()` (and reported by the host), and its validation, whenever it
   * settles, changes nothing.
   */
  #later(data: unknown, message: unknown, at: number, bytes: number, started?: PromiseLike<unknown>): void {
    const host = this.#host;
    const session = this.#session;
    this.#waiting++;
    this.#waitingBytes += bytes;
    this.#waitingFrames.push(data);
    const current = () => session === this.#session;
    const tail = (this.#validating ?? Promise.resolve())
      .then(() => (current() ? (started ?? this.#schema['~standard'].validate(message)) : undefined))
      .then(
        // Out of the chain before it is handed over: a listener that ends the session (close() from a `message`
        // listener) must not get it back from ended() as undelivered, nor unbalance the counts ended() reset.
        (result) => {
          if (!current()) return;
          this.#done(bytes);
          this.#settle(data, message, at, result);
        },
        (error: unknown) => {
          if (!current()) return;
          this.#done(bytes);
          host.invalid(data, error, message);
        },
      )
      // The link never rejects: a rejected one would hand its error to every later message as its own (each would
      // be refused with it) and end as an unhandled rejection. What still throws here is a listener's own error,
      // surfaced like one thrown by a router handler.
      .then(undefined, (error: unknown) =>
        queueMicrotask(() => {
          throw error;
        }),
      );
    this.#validating = tail;
  }

  /** A message left the chain; with none left, the next one is validated at once again. */
  #done(bytes: number): void {
    this.#waitingFrames.shift();
    this.#waitingBytes -= bytes;
    if (--this.#waiting === 0) this.#validating = null;
  }

  ended(): unknown[] {
    const left = this.#waitingFrames;
    this.#session++;
    this.#waitingFrames = [];
    this.#waiting = 0;
    this.#waitingBytes = 0;
    this.#validating = null;
    return left;
  }
}
