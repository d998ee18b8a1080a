/**
 * The steps a message takes on its way out that do not depend on where it goes: encode (the codec), the checks
 * at `send()` (size, what chunking can split), and the write itself (split into chunks only then). Plain functions:
 * the runtime calls them on every message, with no object of their own.
 */
import { type SendData, assertSendData, byteLengthOf } from '../data.js';
import { SocketchartError } from '../errors.js';
import { type Codec, rawCodec } from '../messages/codec.js';
import type { Chunker } from '../plugins/types.js';
import type { TransportSocket } from '../transports/types.js';

/** The frame for an app message; a codec that fails becomes ERR_INVALID_DATA (it is the message that is bad). */
export function encodeMessage(codec: Codec<unknown, unknown>, message: unknown): SendData {
  if (codec === rawCodec) {
    assertSendData(message);
    return message;
  }
  let data: SendData;
  try {
    data = codec.encode(message) as SendData;
  } catch (error) {
    throw new SocketchartError('ERR_INVALID_DATA', `The ${codec.name} codec could not encode the message: ${(error as Error).message}`, { cause: error });
  }
  assertSendData(data);
  return data;
}

/** The checks every outbound frame passes when it is accepted, so one written later obeys the same limits. */
export function checkFrame(data: SendData, maxMessageSize: number, chunker: Chunker | null): void {
  if (maxMessageSize !== Infinity) {
    const size = byteLengthOf(data);
    if (size > maxMessageSize) {
      throw new SocketchartError(
        'ERR_MESSAGE_TOO_LARGE',
        `The message is ${size} bytes; maxMessageSize is ${maxMessageSize}. Split it (see chunking in the README) or raise maxMessageSize.`,
      );
    }
  }
  if (chunker !== null && typeof data !== 'string') chunker.check(data);
}

/**
 * Writes one message on `socket`: as one frame, or, with chunking, as its chunks. A message is split only here,
 * at the moment it is written, so the queue and its drop reports always deal in whole messages.
 */
export function writeMessage(socket: TransportSocket, data: SendData, chunker: Chunker | null): boolean {
  const frames = chunker?.split(data);
  if (!frames) return socket.send(data);
  for (const frame of frames) {
    if (!socket.send(frame)) return false;
  }
  return true;
}
