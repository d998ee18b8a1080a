import type { CliIO } from './io.js';

/**
 * One entry of the CLI's command table. To add a command (`socketchart inspect <url>`, ...), write a module that
 * exports a `Command` and list it in `commands.ts`.
 */
export interface Command {
  /** The word that selects it: `socketchart <name> ...`. */
  readonly name: string;
  /** One line for `socketchart --help`. */
  readonly summary: string;
  /** Its own `--help` text (starts with a `Usage:` line). */
  readonly help: string;
  /**
   * Lets a command be selected by its first argument rather than by name, for a default command such as the
   * interactive client `socketchart <url>`: called with the first argument when no command has that name, or with
   * '' when there are no arguments at all.
   */
  accepts?(firstArg: string): boolean;
  /**
   * Runs with the arguments after the command name (all of them, for a command chosen by `accepts`). Returns the
   * exit code; throws `UsageError` for bad arguments.
   */
  run(args: readonly string[], io: CliIO): number | Promise<number>;
}
