/**
 * The page script of the status indicator (the lifecycle lesson's hands-on exercise, with its bonus challenges).
 * Bundled with the library by server.ts. Everything shown is read from the connection: the indicator from
 * `readyState` and `state`, the log from its events, the numbers from `conn.metrics`.
 */
import { createConnection } from '../../src/index.js'; // in an app: 'socketchart'
import { metrics } from '../../src/plugins/metrics.js'; // in an app: 'socketchart/metrics'

const PING = '{"type":"ping"}';
const conn = createConnection(`ws://${location.host}/ws`, {
  backoff: { initialDelay: 1_000, maxDelay: 10_000 }, // bonus 1: automatic reconnection (on by default)
  metrics: metrics(), // bonus 3: message counts in conn.metrics
  // RTT: the echo server answers our ping by echoing it.
  heartbeat: { mode: 'message', interval: 5_000, timeout: 3_000, ping: () => PING, isPong: (data) => data === PING },
});
(window as unknown as { conn: typeof conn }).conn = conn; // to play with in the console

type Color = 'green' | 'yellow' | 'red';
const EMOJI: Record<Color, string> = { green: '🟢', yellow: '🟡', red: '🔴' };
const COLOR: Record<0 | 1 | 2 | 3, Color> = { 0: 'yellow', 1: 'green', 2: 'red', 3: 'red' };
const NAME: Record<0 | 1 | 2 | 3, string> = { 0: 'CONNECTING', 1: 'OPEN', 2: 'CLOSING', 3: 'CLOSED' };

const $ = (id: string) => document.getElementById(id) as HTMLElement;

function log(text: string, color: Color = COLOR[conn.readyState]): void {
  const time = new Date().toLocaleTimeString([], { hourCycle: 'h23' });
  // One line per event: `[12:00:01] 🟢 OPEN - Ready to communicate`. The emoji is drawn as a CSS dot, so the
  // page does not depend on an emoji font; copying the log still gives the emoji.
  const line = $('log').appendChild(document.createElement('div'));
  const mark = document.createElement('span');
  mark.className = 'mark';
  mark.dataset.color = color;
  mark.textContent = EMOJI[color];
  line.append(`[${time}] `, mark, ` ${text}`);
  $('log').scrollTop = $('log').scrollHeight;
}

// The visual component (bonus 4): indicator, label, numbers, and a timeline with one segment per status.
let segment: { element: HTMLElement; color: Color; since: number } | null = null;
function render(): void {
  const color = COLOR[conn.readyState];
  $('indicator').dataset.color = color;
  $('status-label').textContent = conn.matches('reconnecting') ? 'RECONNECTING' : NAME[conn.readyState];
  $('status-detail').textContent = `chart: ${conn.state}`;
  const m = conn.metrics; // bonus 2 and 3: uptime and message counts
  const seconds = Math.floor(m.uptime / 1000);
  $('uptime').textContent = `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, '0')}`;
  $('sent').textContent = String(m.messagesOut);
  $('received').textContent = String(m.messagesIn);
  $('reconnects').textContent = String(m.reconnects);
  $('queued').textContent = String(m.queueLength);
  $('rtt').textContent = m.rtt === null ? '-' : `${m.rtt} ms`;
  ($('disconnect') as HTMLButtonElement).disabled = conn.readyState >= 2;
  ($('send') as HTMLButtonElement).disabled = conn.readyState >= 2;
  if (segment?.color !== color) {
    const element = $('timeline').appendChild(document.createElement('span'));
    element.dataset.color = color;
    element.title = NAME[conn.readyState];
    segment = { element, color, since: Date.now() };
  }
  segment.element.style.flexGrow = String(Date.now() - segment.since);
}

// The event log, in the lesson's format.
conn.addEventListener('statechange', (e) => {
  if (e.to.startsWith('connecting') && !e.from.startsWith('connecting')) log('CONNECTING');
  else if (e.to === 'closing') log('CLOSING');
  else if (e.to === 'reconnecting.waitingForNetwork') log('OFFLINE - waiting for the network');
  render();
});
conn.addEventListener('open', () => log('OPEN - Ready to communicate'));
conn.addEventListener('close', (e) => log(`CLOSED - Code: ${e.code}, Reason: ${e.reason || 'No reason provided'}`, 'red'));
conn.addEventListener('reconnecting', (e) => log(`RECONNECTING - attempt ${e.attempt} in ${e.delay} ms`));
conn.addEventListener('error', (e) => log(`ERROR - ${e.message}`, 'red'));
conn.addEventListener('message', (e) => {
  log(`MESSAGE: ${String(e.data)}`);
  render();
});

$('disconnect').addEventListener('click', () => {
  log('(user clicks disconnect)');
  conn.close(1000, 'User disconnect');
});
$('reconnect').addEventListener('click', () => {
  log('(user clicks reconnect)');
  conn.reconnect();
});
$('drop').addEventListener('click', () => {
  log('(server is asked to drop the connection)');
  void fetch('/drop', { method: 'POST' });
});
$('send').addEventListener('click', () => {
  const text = ($('message') as HTMLInputElement).value;
  conn.send(text); // queued while reconnecting, sent on open
  log(`SENT: ${text}`);
  render();
});

log('CONNECTING');
render();
setInterval(render, 250);
