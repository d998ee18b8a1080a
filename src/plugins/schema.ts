/**
 * `socketchart/schema`: every decoded inbound message is checked by a Standard Schema validator (zod, valibot,
 * arktype); rejected ones become `invalid-message` events, never `message` events.
 *
 *   import { schema } from 'socketchart/schema';
 *   const conn = createConnection(url, { codec: jsonCodec(), schema: schema(ServerMessage) });
 */
import { invalidOption } from '../errors.js';
import { type StandardResult, type StandardSchemaV1, isStandardSchema } from '../messages/schema.js';
import type { PluginHost, SchemaPlugin, Validator } from './types.js';

export type { StandardResult, StandardSchemaV1 };
export type { SchemaPlugin } from './types.js';

/** The schema plug-in for `createConnection(url, { schema: schema(validator) })`; `In` is the validator's output. */
export function schema<In>(validator: StandardSchemaV1<unknown, In>): SchemaPlugin<In> {
  if (!isStandardSchema(validator)) throw invalidOption('schema', 'a Standard Schema validator (zod, valibot, arktype, ...)', validator);
  return { kind: 'schema', create: (host) => new Validation(host, validator) };
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
    let result: ReturnType<StandardSchemaV1['~standard']['validate']>;
    try {
      result = this.#schema['~standard'].validate(message);
    } catch (error) {
      this.#host.invalid(data, error, message);
      return;
    }
    if (result instanceof Promise) {
      this.#validating = Promise.resolve();
      this.#later(data, message, at, result);
      return;
    }
    if (result.issues) this.#host.invalid(data, result.issues, message);
    else this.#host.route(result.value, at, message);
  }

  /**
   * Async validation, chained so messages keep their arrival order. A validator that rejects makes that message
   * invalid, not the chain; messages of a socket that is gone by the time they validate are not delivered.
   */
  #later(data: unknown, message: unknown, at: number, started?: Promise<StandardResult<unknown>>): void {
    const host = this.#host;
    const socket = host.announced;
    const tail = (this.#validating ?? Promise.resolve())
      .then(() => started ?? this.#schema['~standard'].validate(message))
      .then(
        (result) => {
          if (host.announced !== socket) return;
          if (result.issues) host.invalid(data, result.issues, message);
          else host.route(result.value, at, message);
        },
        (error: unknown) => {
          if (host.announced === socket) host.invalid(data, error, message);
        },
      );
    this.#validating = tail;
    void tail.then(() => {
      if (this.#validating === tail) this.#validating = null;
    });
  }
}
