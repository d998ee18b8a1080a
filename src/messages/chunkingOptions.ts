/**
 * The `chunking` option group: defaults and resolver. The type lives with the split/reassemble code in
 * `chunking.ts`; this file stays apart so resolving options does not pull that code into every bundle.
 */
import { type Assert, type ListsAllKeys, group, whole } from '../validate.js';
import type { ChunkingOptions } from './chunking.js';

export type { ChunkingOptions };
export type ResolvedChunking = Required<ChunkingOptions>;

export const CHUNKING_DEFAULTS = Object.freeze({
  chunkSize: 65_536,
  maxMessageBytes: 16_777_216,
}) satisfies ResolvedChunking;

const KEYS = ['chunkSize', 'maxMessageBytes'] as const;
type _Keys = Assert<ListsAllKeys<ChunkingOptions, typeof KEYS>>;

export function resolveChunking(chunking: ChunkingOptions | true | undefined): ResolvedChunking | null {
  if (chunking === undefined) return null;
  if (chunking === true) return CHUNKING_DEFAULTS;
  const c = group('chunking', chunking, KEYS, 'true or an object') as ChunkingOptions;
  const d = CHUNKING_DEFAULTS;
  return {
    // Smaller frames would be mostly header.
    chunkSize: whole('chunking.chunkSize', c.chunkSize, d.chunkSize, 128),
    maxMessageBytes: whole('chunking.maxMessageBytes', c.maxMessageBytes, d.maxMessageBytes),
  };
}

