import { parseArgs } from 'node:util';
import { toDot, toMermaid } from '../visualize/index.js';
import type { Command } from './command.js';
import { EXIT_OK, UsageError } from './io.js';

const FORMATS = {
  mermaid: () => toMermaid(),
  dot: () => toDot(),
} as const satisfies Record<string, () => string>;

type Format = keyof typeof FORMATS;

const isFormat = (value: string): value is Format => Object.hasOwn(FORMATS, value);

const HELP = `Usage: socketchart diagram [--format mermaid|dot]

Prints the connection statechart, generated from the machine definition, to stdout.

Options:
  -f, --format <format>  mermaid (stateDiagram-v2, the default) or dot (Graphviz: pipe to \`dot -Tsvg\`)
  -h, --help             show this help
`;

export const diagramCommand: Command = {
  name: 'diagram',
  summary: 'print the connection statechart as a Mermaid or Graphviz DOT diagram',
  help: HELP,
  run(args, io) {
    const { values } = parseArgs({
      args: [...args],
      options: {
        format: { type: 'string', short: 'f', default: 'mermaid' },
        help: { type: 'boolean', short: 'h', default: false },
      },
      allowPositionals: false,
      strict: true,
    });
    if (values.help) {
      io.stdout(HELP);
      return EXIT_OK;
    }
    const format = values.format;
    if (!isFormat(format)) {
      throw new UsageError(`unknown format '${format}' (expected one of: ${Object.keys(FORMATS).join(', ')})`);
    }
    io.stdout(FORMATS[format]());
    return EXIT_OK;
  },
};
