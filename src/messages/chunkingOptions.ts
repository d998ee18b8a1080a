/**
 * The options of the chunking plug-in (`chunking()` from `socketchart/chunking`): defaults and resolver. The type
 * lives with the split/reassemble code in `chunking.ts`.
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

export function resolveChunking(chunking: ChunkingOptions | undefined): ResolvedChunking {
  const c = group('chunking', chunking, KEYS);
  if (c === undefined) return CHUNKING_DEFAULTS;
  const d = CHUNKING_DEFAULTS;
  return {
    // Smaller frames would be mostly header.
    chunkSize: whole('chunking.chunkSize', c.chunkSize, d.chunkSize, 128),
    maxMessageBytes: whole('chunking.maxMessageBytes', c.maxMessageBytes, d.maxMessageBytes),
  };
}

