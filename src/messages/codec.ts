import { type SendData, assertSendData } from '../data.js';

/**
 * Turns app messages into frames and frames into app messages. `decode` throws on malformed input; the
 * connection reports that as an `invalid-message` event instead of crashing or delivering garbage.
 */
export interface Codec<In, Out> {
  readonly name: string;
  encode(message: Out): SendData;
  decode(data: unknown): In;
}

/** Frames as they are: strings, ArrayBuffers, Blobs, Buffers. The default. */
export const rawCodec: Codec<unknown, SendData> = Object.freeze({
  name: 'raw',
  encode(message: SendData): SendData {
    assertSendData(message);
    return message;
  },
  decode: (data: unknown) => data,
});

/** JSON text frames. Binary frames are malformed for this codec. */
export function jsonCodec<In = unknown, Out = unknown>(): Codec<In, Out> {
  return {
    name: 'json',
    encode: (message: Out) => JSON.stringify(message),
    decode(data: unknown): In {
      if (typeof data !== 'string') throw new TypeError('Expected a JSON text frame; got a binary frame');
      return JSON.parse(data) as In;
    },
  };
}
