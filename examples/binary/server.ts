/**
 * The server half of the binary example, speaking the same codec: it greets every connection with a data
 * packet (a map tile), and answers each position with the authoritative one, clamped to the 100 x 100 world.
 */
import { createTestServer } from '../../src/testing/index.js'; // in an app: 'socketchart/testing', or any ws server
import { decode, encode } from './protocol.js';

const clamp = (value: number) => Math.min(100, Math.max(0, value));

export async function startBinaryServer() {
  let greeted = 0;
  const server = await createTestServer({
    onConnection(socket) {
      greeted++;
      socket.send(encode({ type: 'packet', bytes: Uint8Array.from([0xca, 0xfe, greeted]) }));
    },
    onMessage(socket, data) {
      const bytes = data as Buffer; // ws hands Node Buffers over; decode wants the exact ArrayBuffer slice
      const message = decode(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
      if (message.type === 'position') socket.send(encode({ type: 'position', x: clamp(message.x), y: clamp(message.y) }));
    },
  });
  return { url: server.url(), dropAll: () => server.dropAll(), close: () => server.close() };
}
