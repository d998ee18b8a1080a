import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Reassembler, splitMessage } from '../../src/messages/chunking.js';
import { utf8Length } from '../../src/data.js';

describe('chunking', () => {
  it('leaves small messages alone', () => {
    expect(splitMessage('small', 1, 1024)).toEqual(['small']);
  });

  it('splits text and binary into frames within chunkSize and reassembles them, in any arrival order', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.string({ unit: 'grapheme', maxLength: 3000 }), fc.uint8Array({ maxLength: 5000 })),
        fc.integer({ min: 128, max: 2000 }),
        fc.boolean(),
        (message, chunkSize, shuffle) => {
          const frames = splitMessage(message, 7, chunkSize);
          for (const frame of frames) {
            expect(typeof frame === 'string' ? utf8Length(frame) : frame.byteLength).toBeLessThanOrEqual(chunkSize);
          }
          const order = shuffle ? [...frames].reverse() : frames;
          const r = new Reassembler();
          const out = order.map((f) => r.accept(f)).filter((m) => m !== undefined);
          expect(out).toHaveLength(1);
          expect(out[0]).toEqual(message);
          expect(r.incomplete).toBe(0);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('passes ordinary frames through and refuses oversized reassemblies', () => {
    const r = new Reassembler(1000);
    expect(r.accept('{"type":"chat"}')).toBe('{"type":"chat"}');
    const frames = splitMessage('x'.repeat(5000), 1, 500);
    expect(() => frames.forEach((f) => r.accept(f))).toThrow(expect.objectContaining({ code: 'ERR_MESSAGE_TOO_LARGE' }));
  });
});
