/**
 * Mobile / visibility-aware client: the API reference's `MobileWebSocket`, on socketchart.
 *
 * In a browser the connection listens to `online` / `offline` and `visibilitychange` by itself. Here, in Node,
 * `createManualEnvironment()` plays the phone: the network goes away and comes back, the app comes back to the
 * foreground. What the chart does with those signals:
 * - offline: drop the socket and wait in `reconnecting.waitingForNetwork`, with no attempts and no battery spent;
 * - online: connect at once, without waiting out a backoff;
 * - visible: if a retry is scheduled, do it now (the user is looking; a 5 s backoff would show as a frozen app).
 *
 * Run: npx tsx examples/visibility/main.ts
 */
import { fileURLToPath } from 'node:url';
import { createConnection, createManualEnvironment } from '../../src/node.js'; // in an app: 'socketchart/node'
import { createTestServer } from '../../src/testing/index.js'; // in an app: 'socketchart/testing', or any ws server

/** The scripted scenario: offline and back, then a server restart while the app is in the background. */
export async function run(log: (line: string) => void = console.log) {
  const server = await createTestServer();
  const phone = createManualEnvironment(true);
  const conn = createConnection(server.url(), {
    environment: phone.source, // in a browser, leave it out: navigator.onLine and visibilitychange are used
    backoff: { initialDelay: 10_000 }, // a long backoff, as a battery-friendly mobile app would choose
    random: () => 0.5, // pins the jitter so the run prints the same delay every time (5 s)
  });
  const transitions: string[] = [];
  conn.addEventListener('statechange', (e) => {
    transitions.push(`${e.from} -> ${e.to} (${e.event.type})`);
    log(`  ${e.from} -> ${e.to}  (${e.event.type})`);
  });
  conn.addEventListener('reconnecting', (e) => log(`  retry ${e.attempt} scheduled in ${e.delay} ms`));
  const next = (type: 'open' | 'reconnecting') => new Promise((resolve) => conn.addEventListener(type, resolve, { once: true }));
  await conn.opened();

  log('the phone loses its network');
  phone.setOnline(false);
  await new Promise((resolve) => setTimeout(resolve, 200));
  const attemptsWhileOffline = server.accepted - 1;
  log(`  ${conn.state} for 200 ms: ${attemptsWhileOffline} connection attempts`);

  log('the network is back');
  const online = next('open');
  phone.setOnline(true);
  await online;

  log('the app is in the background; the server restarts');
  const scheduled = next('reconnecting');
  await server.stop();
  await scheduled;
  await server.restart();

  log('the user opens the app again');
  const shown = Date.now();
  const visible = next('open');
  phone.becameVisible();
  await visible;
  const reopenedAfter = Date.now() - shown;
  log(`  open again after ${reopenedAfter} ms instead of the 5000 ms backoff`);

  const closed = new Promise((resolve) => conn.addEventListener('close', resolve, { once: true }));
  conn.close();
  await closed;
  await server.close();
  return { transitions, attemptsWhileOffline, reopenedAfter, accepted: server.accepted };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await run();
