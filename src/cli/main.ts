#!/usr/bin/env node
/**
 * The `socketchart` command. The logic lives in `run.ts` (testable in-process); this file only binds it to the
 * process: its arguments, its streams, its exit code.
 */
import { run } from './run.js';

// `socketchart diagram | head` closes the pipe early: that's the reader's choice, not an error.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});

run(process.argv.slice(2), {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
}).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`socketchart: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  },
);
