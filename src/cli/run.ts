import type { Command } from './command.js';
import { commands as defaultCommands } from './commands.js';
import { type CliIO, EXIT_FAILURE, EXIT_OK, EXIT_USAGE, UsageError } from './io.js';

const PROGRAM = 'socketchart';

/** The top-level `--help`, listing the command table. */
export function mainHelp(commands: readonly Command[] = defaultCommands): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  const list = commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join('\n');
  return `Usage: ${PROGRAM} <command> [options]

Commands:
${list}

Options:
  -h, --help  show this help (\`${PROGRAM} <command> --help\` for a command's own)
${commands.filter((c) => c.accepts).map((c) => `\nThe default command, ${c.name}:\n\n${c.help}`).join('')}`;
}

/**
 * Runs the CLI on `argv` (without `node` and the script) and resolves to the exit code. Never throws and never
 * exits the process: `main.ts` does that, so this can be tested in-process.
 */
export async function run(argv: readonly string[], io: CliIO, commands: readonly Command[] = defaultCommands): Promise<number> {
  const [first, ...rest] = argv;
  if (first === '--help' || first === '-h' || first === 'help') {
    io.stdout(mainHelp(commands));
    return EXIT_OK;
  }
  const named = first === undefined ? undefined : commands.find((c) => c.name === first);
  const command = named ?? commands.find((c) => c.accepts?.(first ?? '') === true);
  if (command === undefined) {
    if (first === undefined) {
      io.stderr(`${PROGRAM}: missing command\n\n${mainHelp(commands)}`);
      return EXIT_USAGE;
    }
    const what = first.startsWith('-') ? `unknown option '${first}'` : `unknown command '${first}'`;
    io.stderr(`${PROGRAM}: ${what}\nRun '${PROGRAM} --help' for usage.\n`);
    return EXIT_USAGE;
  }

  try {
    return await command.run(named === undefined ? argv : rest, io);
  } catch (error) {
    const usage = error instanceof UsageError || isParseArgsError(error);
    const message = error instanceof Error ? error.message : String(error);
    if (usage) {
      io.stderr(`${PROGRAM} ${command.name}: ${message}\nRun '${PROGRAM} ${command.name} --help' for usage.\n`);
      return EXIT_USAGE;
    }
    io.stderr(`${PROGRAM} ${command.name}: ${message}\n`);
    return EXIT_FAILURE;
  }
}

/** node:util parseArgs reports unknown options, missing values and stray positionals with `ERR_PARSE_ARGS_*` codes. */
function isParseArgsError(error: unknown): error is Error {
  return error instanceof Error && String((error as { code?: unknown }).code ?? '').startsWith('ERR_PARSE_ARGS_');
}
