import { clientCommand } from './client.js';
import type { Command } from './command.js';
import { diagramCommand } from './diagram.js';
import { inspectCommand } from './inspect.js';

/** Every `socketchart` command, in the order `--help` lists them. Add new commands here. */
export const commands: readonly Command[] = [clientCommand, diagramCommand, inspectCommand];
