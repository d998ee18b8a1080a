import { defineConfig } from 'tsup';

export default defineConfig({
  entry: {
    index: 'src/index.ts',
    node: 'src/node.ts',
    testing: 'src/testing/index.ts',
    'testing-browser': 'src/testing/browser.ts',
    cli: 'src/cli/main.ts',
    delivery: 'src/delivery/index.ts',
    // Message plug-ins: each its own entry, so an app's bundle holds only those it imports.
    chunking: 'src/plugins/chunking.ts',
    batching: 'src/plugins/batching.ts',
    requests: 'src/plugins/requests.ts',
    schema: 'src/plugins/schema.ts',
    router: 'src/plugins/router.ts',
    metrics: 'src/plugins/metrics.ts',
    server: 'src/server/index.ts',
    'server-redis': 'src/server/redis.ts',
  },
  format: ['esm', 'cjs'],
  dts: true,
  clean: true,
  sourcemap: true,
  target: 'es2022',
  splitting: true,
  treeshake: true,
  external: ['ws', 'xstate', 'redis'],
});
