import { expect, it } from 'vitest';
import { run } from '../../examples/typed-schema/main.js';
import { serverMessage } from '../../examples/typed-schema/schema.js';

it('typed schema: valid messages reach the typed handlers, invalid ones become invalid-message events', async () => {
  const { valid, invalid } = await run(() => {});
  expect(valid).toEqual(['ada joined', 'ada: hello', 'grace: hi ada', 'ada left']);
  expect(invalid.map((i) => i.problem)).toEqual([
    'text: expected a string',
    'type: unknown type "shout"',
    'timestamp: expected a number',
    expect.stringMatching(/^SyntaxError/),
  ]);
  expect(invalid[3]?.data).toBe('{"type": "chat", "username": "mallory", "text": "unterminated');
});

it('typed schema: the hand-written validator follows Standard Schema', () => {
  const validate = serverMessage['~standard'].validate;
  expect(validate({ type: 'user_left', username: 'a', timestamp: 1 })).toEqual({ value: { type: 'user_left', username: 'a', timestamp: 1 } });
  expect(validate(null)).toEqual({ issues: [{ message: 'expected an object', path: [] }] });
});
