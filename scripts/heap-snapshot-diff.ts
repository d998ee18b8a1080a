/**
 * What each connection adds to the heap, from two heap snapshots (before and after opening N connections):
 *
 *   npx tsx scripts/heap-snapshot-diff.ts before.heapsnapshot after.heapsnapshot 1000 [--owners "<type> <name>"]
 *
 * Take the snapshots with bench/heap-client.ts and BENCH_HEAP_SNAPSHOT=<prefix>, run as the bench runs it (an esbuild
 * bundle, not under tsx: tsx keeps function names with Object.defineProperty, which gives 7 functions per
 * connection a 256-byte property array that the bundle does not have). Prints bytes and objects per connection by
 * node type and name; with --owners, which objects hold the new nodes of that kind, and through which edge.
 * Compiled code (`code` nodes) is a one-time cost: if it shows up per connection, the warm-up was too short.
 */
import { readFileSync } from 'node:fs';

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[]]; edge_fields: string[]; edge_types: [string[]] } };
  nodes: number[];
  edges: number[];
  strings: string[];
}

const [beforeFile, afterFile, countArg] = process.argv.slice(2);
const ownersOf = process.argv.includes('--owners') ? process.argv[process.argv.indexOf('--owners') + 1] : undefined;
if (!beforeFile || !afterFile) throw new Error('usage: heap-snapshot-diff.ts before.heapsnapshot after.heapsnapshot <connections> [--owners "<type> <name>"]');
const perConnection = Number(countArg ?? 1000);

const load = (file: string) => JSON.parse(readFileSync(file, 'utf8')) as Snapshot;

function reader(s: Snapshot) {
  const fields = s.snapshot.meta.node_fields;
  const width = fields.length;
  const [type, name, size, id, edgeCount] = ['type', 'name', 'self_size', 'id', 'edge_count'].map((f) => fields.indexOf(f)) as [number, number, number, number, number];
  const types = s.snapshot.meta.node_types[0];
  /** A node's kind: its type and, for objects and closures, its name (strings and code are grouped). */
  const kind = (i: number) => {
    const t = types[s.nodes[i + type] as number] as string;
    if (t === 'object' || t === 'closure' || t === 'hidden' || t === 'array' || t === 'synthetic') return `${t} ${(s.strings[s.nodes[i + name] as number] as string).slice(0, 60)}`;
    return t;
  };
  return { width, kind, size: (i: number) => s.nodes[i + size] as number, id: (i: number) => s.nodes[i + id] as number, edges: (i: number) => s.nodes[i + edgeCount] as number };
}

const before = load(beforeFile);
const r0 = reader(before);
const known = new Set<number>();
const totals0 = new Map<string, [number, number]>();
for (let i = 0; i < before.nodes.length; i += r0.width) {
  known.add(r0.id(i));
  const t = totals0.get(r0.kind(i)) ?? [0, 0];
  totals0.set(r0.kind(i), [t[0] + r0.size(i), t[1] + 1]);
}

const after = load(afterFile);
const r1 = reader(after);
const rows = new Map<string, [number, number]>();
for (let i = 0; i < after.nodes.length; i += r1.width) {
  const t = rows.get(r1.kind(i)) ?? [0, 0];
  rows.set(r1.kind(i), [t[0] + r1.size(i), t[1] + 1]);
}
let total = 0;
const diff = [...rows].map(([kind, [bytes, count]]) => {
  const [b0, c0] = totals0.get(kind) ?? [0, 0];
  total += (bytes - b0) / perConnection;
  return { kind, bytes: (bytes - b0) / perConnection, count: (count - c0) / perConnection };
});
console.log(`per connection: ${total.toFixed(0)} bytes`);
for (const row of diff.filter((d) => Math.abs(d.bytes) >= 8).sort((a, b) => b.bytes - a.bytes).slice(0, 40)) {
  console.log(`${row.bytes.toFixed(1).padStart(8)} B ${row.count.toFixed(2).padStart(6)} x  ${row.kind}`);
}

if (ownersOf) {
  const edgeWidth = after.snapshot.meta.edge_fields.length;
  const edgeTypes = after.snapshot.meta.edge_types[0];
  const owners = new Map<string, [number, number]>();
  let e = 0;
  for (let i = 0; i < after.nodes.length; i += r1.width) {
    for (let k = 0; k < r1.edges(i); k++, e += edgeWidth) {
      const to = after.edges[e + 2] as number;
      const edgeType = edgeTypes[after.edges[e] as number] as string;
      if (edgeType === 'weak' || r1.kind(to) !== ownersOf || known.has(r1.id(to))) continue;
      const edgeName = edgeType === 'element' || edgeType === 'hidden' ? String(after.edges[e + 1]) : (after.strings[after.edges[e + 1] as number] as string);
      const key = `${r1.kind(i)} --${edgeType}:${edgeName.slice(0, 30)}`;
      const t = owners.get(key) ?? [0, 0];
      owners.set(key, [t[0] + r1.size(to), t[1] + 1]);
    }
  }
  console.log(`\nwho holds the new "${ownersOf}" (an edge per holder: a shared node counts once per edge):`);
  for (const [key, [bytes, count]] of [...owners].sort((a, b) => b[1][0] - a[1][0]).slice(0, 30)) {
    console.log(`${(bytes / perConnection).toFixed(1).padStart(8)} B ${(count / perConnection).toFixed(2).padStart(6)} x  ${key}`);
  }
}
