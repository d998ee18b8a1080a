/**
 * Typed messages with a schema: the API reference's `TypedWebSocket<TSend, TReceive>`, on socketchart.
 *
 * `createConnection<ServerMessage, ClientMessage>` types both directions: `send()` takes only a `ClientMessage`,
 * `on('chat', m => ...)` hands over the `chat` member of the union. The type parameter alone is a promise the
 * server may break, so `schema` checks every inbound message at run time: what fails (or is not JSON at all)
 * becomes an `invalid-message` event and never reaches the handlers.
 *
 * Run: npx tsx examples/typed-schema/main.ts
 */
import { fileURLToPath } from 'node:url';
import { type Connection, createConnection, jsonCodec } from '../../src/node.js'; // in an app: 'socketchart/node'
import { router } from '../../src/plugins/router.js'; // in an app: 'socketchart/router'
import { schema } from '../../src/plugins/schema.js'; // in an app: 'socketchart/schema'
import { type ClientMessage, type ServerMessage, serverMessage } from './schema.js';
import { startTypedServer } from './server.js';

export function createTypedClient(url: string): Connection<ServerMessage, ClientMessage> {
  return createConnection(url, { codec: jsonCodec(), schema: schema(serverMessage), router: router() });
}

/** The scripted scenario: subscribe, receive a backlog with bad messages in it, see which ones got through. */
export async function run(log: (line: string) => void = console.log) {
  const server = await startTypedServer();
  const conn = createTypedClient(server.url);
  const valid: string[] = [];
  const invalid: Array<{ data: unknown; problem: string }> = [];

  conn
    .on('chat', (m) => valid.push(`${m.username}: ${m.text}`)) // m: { type: 'chat'; username; text; timestamp }
    .on('user_joined', (m) => valid.push(`${m.username} joined`))
    .on('user_left', (m) => valid.push(`${m.username} left`));
  conn.addEventListener('invalid-message', (e) => {
    // `problem` is the schema's issues, or the codec's error for a frame that is not JSON.
    const problem = Array.isArray(e.problem)
      ? e.problem.map((issue: { message: string; path?: unknown[] }) => `${issue.path?.join('.') || '(root)'}: ${issue.message}`).join('; ')
      : String(e.problem);
    invalid.push({ data: e.data, problem });
  });

  const done = new Promise((resolve) => conn.on('user_left', (m) => m.username === 'ada' && resolve(m)));
  conn.send({ action: 'subscribe', channel: 'general' });
  await done;

  for (const line of valid) log(`  valid:   ${line}`);
  for (const { data, problem } of invalid) log(`  invalid: ${String(data)}\n           -> ${problem}`);
  conn.close();
  await server.close();
  return { valid, invalid };
}

/** Never called: what the compiler refuses (tsc checks these `@ts-expect-error` lines). */
export function _typeErrors(conn: Connection<ServerMessage, ClientMessage>): void {
  // @ts-expect-error 'publish' is not an action the server accepts
  conn.send({ action: 'publish', channel: 'general' });
  // @ts-expect-error a user_joined message has no text
  conn.on('user_joined', (m) => m.text);
  // @ts-expect-error 'typing' is not a message the server sends
  conn.on('typing', () => {});
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await run();
