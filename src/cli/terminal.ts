/**
 * Where the client's output goes. Two kinds:
 * - `TtyScreen` (stdin and stdout are terminals): a readline prompt whose first row is the live status line;
 *   messages and log lines are printed above it, typed lines are read below it.
 * - `LineScreen` (anything else): received messages on stdout, everything else on stderr, no escape codes; lines
 *   are read from stdin until it ends.
 */
import { clearScreenDown, createInterface, cursorTo, moveCursor, type Interface } from 'node:readline';
import type { CliIO } from './io.js';
import { visibleWidth } from './statusLine.js';

export interface ScreenHandlers {
  /** A line the user typed (or stdin gave). */
  line(text: string): void;
  /** Input is over: Ctrl-D, or the end of stdin. */
  end(): void;
  /** Ctrl-C. */
  interrupt(): void;
}

export interface Screen {
  /** Whether colors and the status line are in use. */
  readonly interactive: boolean;
  /** A received message (stdout). */
  message(text: string): void;
  /** A log line: transitions, chaos, notes (stderr when not interactive). */
  note(text: string): void;
  /** Echo of a line that was sent (interactive only; the input already shows it otherwise). */
  sent(text: string): void;
  /** Redraw the status line (interactive only). */
  refresh(): void;
  /** Stop reading; leaves the last status line on screen. */
  close(): void;
}

const DIM = '\x1b[2m';
const CYAN = '\x1b[36m';
const RESET = '\x1b[0m';
const INPUT_PROMPT = '› ';

/** Lines from stdin, output as plain lines. Ctrl-C is a SIGINT here (no raw mode). */
export class LineScreen implements Screen {
  readonly interactive = false;
  readonly #io: CliIO;
  readonly #rl: Interface;
  readonly #input: NodeJS.ReadableStream;
  readonly #onSigint: () => void;

  constructor(io: CliIO, input: NodeJS.ReadableStream, handlers: ScreenHandlers) {
    this.#io = io;
    this.#input = input;
    this.#rl = createInterface({ input, terminal: false, crlfDelay: Infinity });
    this.#rl.on('line', (line) => handlers.line(line));
    this.#rl.on('close', () => handlers.end());
    this.#onSigint = () => handlers.interrupt();
    process.on('SIGINT', this.#onSigint);
  }

  message(text: string): void {
    this.#io.stdout(`${text}\n`);
  }

  note(text: string): void {
    this.#io.stderr(`${text}\n`);
  }

  sent(): void {}

  refresh(): void {}

  close(): void {
    process.off('SIGINT', this.#onSigint);
    this.#rl.removeAllListeners('close');
    this.#rl.close();
    this.#input.pause();
  }
}

/**
 * The interactive view. The readline prompt is two rows: the status line, then `› ` and what is being typed;
 * readline redraws it in place (`prompt(true)`), and anything printed goes above it.
 */
export class TtyScreen implements Screen {
  readonly interactive = true;
  readonly #rl: Interface;
  readonly #out: NodeJS.WriteStream;
  readonly #input: NodeJS.ReadStream;
  readonly #status: (columns: number) => string;
  #closed = false;
  /** Whether the prompt block is on screen (not during a line handler: Enter has just moved past it). */
  #drawn = false;

  constructor(input: NodeJS.ReadStream, output: NodeJS.WriteStream, status: (columns: number) => string, handlers: ScreenHandlers) {
    this.#out = output;
    this.#input = input;
    this.#status = status;
    this.#rl = createInterface({ input, output, terminal: true, prompt: this.#prompt(), historySize: 200 });
    this.#rl.on('line', (line) => {
      this.#eraseSubmitted(line);
      this.#drawn = false;
      handlers.line(line);
      this.refresh();
    });
    this.#rl.on('close', () => {
      if (!this.#closed) handlers.end();
    });
    this.#rl.on('SIGINT', () => handlers.interrupt());
    output.on('resize', this.#onResize);
    this.#rl.prompt();
    this.#drawn = true;
  }

  readonly #onResize = () => this.refresh();

  get #columns(): number {
    return this.#out.columns || 80;
  }

  #prompt(): string {
    return `${this.#status(this.#columns)}\n${INPUT_PROMPT}`;
  }

  /** Prints `text` (possibly several lines) above the prompt, then redraws the prompt below it. */
  #above(text: string): void {
    if (this.#closed || !this.#drawn) {
      this.#out.write(`${text}\n`);
      return;
    }
    // Clear the prompt block from its first row down, print, then leave as many fresh rows below as the cursor had
    // above it: readline's redraw moves up by that much before drawing the prompt again.
    const { rows } = this.#rl.getCursorPos();
    moveCursor(this.#out, 0, -rows);
    cursorTo(this.#out, 0);
    clearScreenDown(this.#out);
    this.#out.write(`${text}\n${'\n'.repeat(rows)}`);
    this.#rl.setPrompt(this.#prompt());
    this.#rl.prompt(true);
  }

  /** After Enter, readline leaves the old prompt block (status + typed line) on screen; remove it. */
  #eraseSubmitted(line: string): void {
    const inputRows = Math.max(1, Math.ceil(visibleWidth(INPUT_PROMPT + line) / this.#columns));
    moveCursor(this.#out, 0, -(1 + inputRows));
    cursorTo(this.#out, 0);
    clearScreenDown(this.#out);
  }

  message(text: string): void {
    this.#above(`${CYAN}<${RESET} ${text.replace(/\n/g, '\n  ')}`);
  }

  note(text: string): void {
    this.#above(text);
  }

  sent(text: string): void {
    // Printed right after the erased prompt block: nothing of the prompt is on screen, so plain output.
    this.#out.write(`${DIM}>${RESET} ${text}\n`);
  }

  refresh(): void {
    if (this.#closed) return;
    this.#rl.setPrompt(this.#prompt());
    this.#rl.prompt(true);
    this.#drawn = true;
  }

  close(): void {
    if (this.#closed) return;
    if (this.#drawn) {
      const { rows } = this.#rl.getCursorPos();
      moveCursor(this.#out, 0, -rows);
      cursorTo(this.#out, 0);
      clearScreenDown(this.#out);
    }
    this.#out.write(`${this.#status(this.#columns)}\n`);
    this.#closed = true;
    this.#out.off('resize', this.#onResize);
    this.#rl.close();
    this.#input.pause();
  }
}
