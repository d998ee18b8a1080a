/**
 * The `unconfirmed` option group: defaults and resolver. The type lives with the log in `unconfirmed.ts`; this
 * file stays apart so resolving options does not pull the log's code into every bundle.
 */
import { invalidOption } from '../errors.js';
import { type Assert, type ListsAllKeys, group, whole } from '../validate.js';
import type { ResolvedUnconfirmed, UnconfirmedOptions } from './unconfirmed.js';

export type { ResolvedUnconfirmed, UnconfirmedOptions };

export const UNCONFIRMED_DEFAULTS = Object.freeze({
  maxMessages: 1000,
  maxBytes: 1_048_576,
  confirmEvery: 100,
}) satisfies ResolvedUnconfirmed;

const KEYS = ['maxMessages', 'maxBytes', 'confirmEvery'] as const;
type _Keys = Assert<ListsAllKeys<UnconfirmedOptions, typeof KEYS>>;

export function resolveUnconfirmed(unconfirmed: UnconfirmedOptions | false | undefined): ResolvedUnconfirmed | null {
  if (unconfirmed === false) return null;
  const u = group('unconfirmed', unconfirmed, KEYS, 'an object { maxMessages?, maxBytes?, confirmEvery? } or false');
  if (u === undefined) return UNCONFIRMED_DEFAULTS;
  const d = UNCONFIRMED_DEFAULTS;
  const maxMessages = whole('unconfirmed.maxMessages', u.maxMessages, d.maxMessages, 0, true);
  if (maxMessages < 1) throw invalidOption('unconfirmed.maxMessages', 'at least 1 (use unconfirmed: false to turn tracking off)', maxMessages);
  return {
    maxMessages,
    maxBytes: whole('unconfirmed.maxBytes', u.maxBytes, d.maxBytes, 0, true),
    confirmEvery: whole('unconfirmed.confirmEvery', u.confirmEvery, d.confirmEvery, 0, true),
  };
}
