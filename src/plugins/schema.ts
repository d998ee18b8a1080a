/**
 * `socketchart/schema`: every decoded inbound message is checked by a Standard Schema validator (zod, valibot,
 * arktype); rejected ones become `invalid-message` events, never `message` events.
 *
 *   import { schema } from 'socketchart/schema';
 *   const conn = createConnection(url, { codec: jsonCodec(), schema: schema(ServerMessage) });
 */
import { SocketchartError, describe, invalidOption } from '../errors.js';
import { type StandardResult, type StandardSchemaV1, isStandardSchema } from '../messages/schema.js';
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
  /** Keeps async validations in arrival order. */
  #validating: Promise<void> | null = null;

  constructor(host: PluginHost, schema: StandardSchemaV1) {
    this.#host = host;
    this.#schema = schema;
  }

  accept(data: unknown, message: unknown, at: number): void {
    if (this.#validating) {
      this.#later(data, message, at);
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
      this.#validating = Promise.resolve();
      this.#later(data, message, at, result);
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
   * invalid, not the chain; messages of a socket that is gone by the time they validate are not delivered.
   */
  #later(data: unknown, message: unknown, at: number, started?: PromiseLike<unknown>): void {
    const host = this.#host;
    const socket = host.announced;
    const tail = (this.#validating ?? Promise.resolve())
      .then(() => started ?? this.#schema['~standard'].validate(message))
      .then(
        (result) => {
          if (host.announced === socket) this.#settle(data, message, at, result);
        },
        (error: unknown) => {
          if (host.announced === socket) host.invalid(data, error, message);
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
    void tail.then(() => {
      if (this.#validating === tail) this.#validating = null;
    });
  }
}
