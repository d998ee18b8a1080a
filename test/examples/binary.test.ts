import { expect, it } from 'vitest';
import { run } from '../../examples/binary/main.js';
import { decode, encode } from '../../examples/binary/protocol.js';

it('binary: positions round-trip as DataView frames, and a move queued during a drop arrives after it', async () => {
  const result = await run(() => {});
  expect(result.binaryType).toBe('arraybuffer');
  expect(result.positions).toEqual([
    [1.5, 2.25],
    [50, 75.5],
    [100, 0], // clamped by the server
    [10.25, 20.5], // queued while reconnecting
  ]);
  expect(result.packets).toEqual([
    [0xca, 0xfe, 1],
    [0xca, 0xfe, 2],
  ]);
  expect(result.bytesOut).toBe(4 * 9);
});

it('binary: the codec writes the reference layout and refuses malformed frames', () => {
  const frame = encode({ type: 'position', x: 3.5, y: -1 });
  const view = new DataView(frame);
  expect([frame.byteLength, view.getUint8(0), view.getFloat32(1), view.getFloat32(5)]).toEqual([9, 1, 3.5, -1]);
  expect(decode(frame)).toEqual({ type: 'position', x: 3.5, y: -1 });
  expect(() => decode(new Uint8Array([1, 2, 3]).buffer)).toThrow(RangeError);
  expect(() => decode('text')).toThrow(TypeError);
});
