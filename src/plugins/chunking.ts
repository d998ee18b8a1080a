/**
 * `socketchart/chunking`: messages bigger than a frame limit go as several frames and come back whole.
 *
 *   import { chunking } from 'socketchart/chunking';
 *   createConnection(url, { chunking: chunking({ chunkSize: 65536 }) });
 *
 * Both ends need the format of `splitMessage` / `Reassembler` (exported here for servers too).
 */
import { byteLengthOf } from '../data.js';
import { SocketchartError } from '../errors.js';
import { Reassembler, splitMessage } from '../messages/chunking.js';
import { type ChunkingOptions, CHUNKING_DEFAULTS, resolveChunking } from '../messages/chunkingOptions.js';
import type { ChunkingPlugin, PluginHost } from './types.js';

export { CHUNKING_DEFAULTS, Reassembler, splitMessage, type ChunkingOptions };
export type { DiscardedChunks, ReassemblerLimits } from '../messages/chunking.js';
export type { ChunkingPlugin } from './types.js';

/** The chunking plug-in for `createConnection(url, { chunking: chunking(options) })`. Checks `options` now. */
export function chunking(options?: ChunkingOptions): ChunkingPlugin {
  const { chunkSize, maxMessageBytes } = resolveChunking(options);
  return {
    kind: 'chunking',
    create(host: PluginHost) {
      const reassembler = new Reassembler(maxMessageBytes, { onDiscard: ({ error }) => host.reportInvalid(undefined, error) });
      let nextId = 0;
      return {
        // A Blob can only be read asynchronously, so chunking (which splits at write time) cannot split one.
        check(data) {
          if (typeof Blob !== 'undefined' && data instanceof Blob && data.size > chunkSize) {
            throw new SocketchartError(
              'ERR_INVALID_DATA',
              `A Blob of ${data.size} bytes is bigger than chunking.chunkSize (${chunkSize}) and cannot be split synchronously; send \`await blob.arrayBuffer()\` instead.`,
            );
          }
        },
        // Split only when written, so the queue and its drop reports always deal in whole messages.
        split(data) {
          if (byteLengthOf(data) <= chunkSize) return null;
          const bytes = typeof data === 'string' ? data : ArrayBuffer.isView(data) ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : new Uint8Array(data as ArrayBuffer);
          return splitMessage(bytes, ++nextId, chunkSize);
        },
        accept(frame) {
          const data = reassembler.accept(frame);
          // A reassembled binary message arrives as the binaryType asks.
          return data instanceof Uint8Array && data !== frame && host.binaryType === 'arraybuffer' ? data.buffer : data;
        },
        reset: () => reassembler.reset(),
      };
    },
  };
}
