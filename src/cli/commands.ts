import type { Command } from './command.js';
import { diagramCommand } from './diagram.js';

/** Every `socketchart` command, in the order `--help` lists them. Add new commands here. */
export const commands: readonly Command[] = [diagramCommand];
