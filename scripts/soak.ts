/**
 * `npm run soak`: the full delivery run of issue 7, opt-in because it takes a while.
 *
 * 20,000 messages each way at about 1 per ms while the server kills every TCP connection every second, once with
 * acknowledged delivery (atLeastOnce + attachAckServer: must be 0 lost, 0 duplicated) and once in plain mode
 * (matched message by message: every client message must arrive or be reported; `unconfirmed` reports of messages
 * that did arrive are counted apart). With `--chaos` it then runs the long chaos soak
 * (test/soak/chaosChild.ts; CHAOS_CONNECTIONS, CHAOS_MS, CHAOS_SEED apply).
 *
 *   npm run soak                        # delivery figures
 *   npm run soak -- --messages 5000     # shorter
 *   npm run soak -- --chaos             # then the long chaos soak
 *
 * Exits 1 when acknowledged mode lost or duplicated anything, or plain mode lost a client message without a report.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { type KillScenarioResult, runKillScenario } from '../test/delivery/killScenario.js';

const args = process.argv.slice(2);
const option = (name: string, fallback: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const messages = option('messages', 20_000);
const killEvery = option('kill-every', 1000);

function row(result: KillScenarioResult): string[] {
  return (['clientToServer', 'serverToClient'] as const).map((key) => {
    const d = result[key];
    return `| ${result.mode} | ${key === 'clientToServer' ? 'client -> server' : 'server -> client'} | ${d.sent} | ${d.delivered} | ${d.duplicates} | ${d.outOfOrder} | ${d.reportedDrops} (${d.reportedButDelivered} arrived) | ${d.silentlyLost} |`;
  });
}

console.log(`${messages} messages each way at ~1/ms, every TCP connection killed every ${killEvery} ms (Node ${process.version}, ${new Date().toISOString()})\n`);
const acked = await runKillScenario({ messages, killEvery, mode: 'acked', drainTimeout: 30_000 });
const plain = await runKillScenario({ messages, killEvery, mode: 'plain', sendCallbacks: true });
console.log('| mode | direction | sent | delivered | duplicated | out of order | reported (drop) | silently lost |');
console.log('|---|---|---|---|---|---|---|---|');
for (const line of [...row(acked), ...row(plain)]) console.log(line);
console.log(`\nacked: ${acked.ms} ms, ${acked.kills} kills, ${acked.opens} opens; server: ${JSON.stringify(acked.server)}`);
console.log(`plain: ${plain.ms} ms, ${plain.kills} kills, ${plain.opens} opens; client writes ws reported as failed through a send callback: ${plain.clientSendCallbackErrors}`);

const ok = [acked.clientToServer, acked.serverToClient].every(
  (d) => d.delivered === d.sent && d.duplicates === 0 && d.outOfOrder === 0 && d.reportedDrops === 0 && d.silentlyLost === 0,
);
console.log(ok ? '\nacknowledged delivery: 0 lost, 0 duplicated' : '\nacknowledged delivery FAILED');
const plainOk = plain.clientToServer.silentlyLost === 0;
console.log(plainOk ? 'plain mode: every client message arrived or was reported' : 'plain mode FAILED: client messages lost without a report');

if (args.includes('--chaos')) {
  const env = { ...process.env, CHAOS_CONNECTIONS: process.env.CHAOS_CONNECTIONS ?? '2000', CHAOS_MS: process.env.CHAOS_MS ?? '90000' };
  console.log(`\nchaos soak: ${env.CHAOS_CONNECTIONS} connections, ${env.CHAOS_MS} ms of faults`);
  const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', 'test/soak/chaosChild.ts'], { env, stdio: ['ignore', 'inherit', 'inherit'] });
  const [code] = await once(child, 'exit');
  if (code !== 0) process.exitCode = 1;
}
if (!ok || !plainOk) process.exitCode = 1;
