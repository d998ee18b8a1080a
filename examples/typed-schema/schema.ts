/**
 * The message types, and a validator for what the server sends. The validator implements Standard Schema
 * (https://standardschema.dev) by hand, in a few lines, so the example needs no dependency; a zod, valibot or
 * arktype schema is a Standard Schema too and goes in the same `schema` option unchanged.
 */
import type { StandardSchemaV1 } from '../../src/index.js'; // in an app: 'socketchart'

/** What the server sends (the API reference's typed message interfaces). */
export type ServerMessage =
  | { type: 'chat'; username: string; text: string; timestamp: number }
  | { type: 'user_joined'; username: string; timestamp: number }
  | { type: 'user_left'; username: string; timestamp: number };

/** What the client sends. */
export type ClientMessage = { action: 'subscribe' | 'unsubscribe'; channel: string };

const fail = (message: string, key?: string) => ({ issues: [{ message, path: key ? [key] : [] }] });

export const serverMessage: StandardSchemaV1<unknown, ServerMessage> = {
  '~standard': {
    version: 1,
    vendor: 'socketchart-example',
    validate(value) {
      if (typeof value !== 'object' || value === null) return fail('expected an object');
      const m = value as Record<string, unknown>;
      if (m.type !== 'chat' && m.type !== 'user_joined' && m.type !== 'user_left') return fail(`unknown type ${JSON.stringify(m.type)}`, 'type');
      if (typeof m.username !== 'string') return fail('expected a string', 'username');
      if (typeof m.timestamp !== 'number') return fail('expected a number', 'timestamp');
      if (m.type === 'chat' && typeof m.text !== 'string') return fail('expected a string', 'text');
      return { value: m as ServerMessage };
    },
  },
};
