/** What a command may touch of the outside world, so commands can be run and tested in-process. */
export interface CliIO {
  stdout(text: string): void;
  stderr(text: string): void;
}

/** Bad command-line input: reported on stderr with a pointer to `--help`, and exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** Exit codes: 0 done, 1 the command failed, 2 it was called wrongly. */
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;
