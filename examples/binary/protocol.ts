/**
 * The wire format, from the API reference's binary examples, as a socketchart codec: byte 0 is the message type;
 * `0x01` a position (two big-endian float32 at bytes 1 and 5); `0x02` a data packet (a uint32 length at byte 1,
 * then that many bytes). The DataView code lives here once; the rest of the app sends and receives objects.
 */
import type { Codec } from '../../src/index.js'; // in an app: 'socketchart'

export type GameMessage = { type: 'position'; x: number; y: number } | { type: 'packet'; bytes: Uint8Array };

const POSITION = 0x01;
const PACKET = 0x02;

export function encode(message: GameMessage): ArrayBuffer {
  if (message.type === 'position') {
    const view = new DataView(new ArrayBuffer(9));
    view.setUint8(0, POSITION);
    view.setFloat32(1, message.x);
    view.setFloat32(5, message.y);
    return view.buffer;
  }
  const view = new DataView(new ArrayBuffer(5 + message.bytes.length));
  view.setUint8(0, PACKET);
  view.setUint32(1, message.bytes.length);
  new Uint8Array(view.buffer, 5).set(message.bytes);
  return view.buffer;
}

/** Throws on anything malformed: the connection reports that as an `invalid-message` event. */
export function decode(data: unknown): GameMessage {
  if (!(data instanceof ArrayBuffer)) throw new TypeError("expected an ArrayBuffer (binaryType 'arraybuffer')");
  const view = new DataView(data);
  switch (data.byteLength > 0 ? view.getUint8(0) : -1) {
    case POSITION:
      if (data.byteLength !== 9) break;
      return { type: 'position', x: view.getFloat32(1), y: view.getFloat32(5) };
    case PACKET: {
      const length = data.byteLength >= 5 ? view.getUint32(1) : -1;
      if (length !== data.byteLength - 5) break;
      return { type: 'packet', bytes: new Uint8Array(data, 5, length) };
    }
  }
  throw new RangeError(`malformed message (${data.byteLength} bytes)`);
}

export const gameCodec: Codec<GameMessage, GameMessage> = { name: 'game-binary', encode, decode };
