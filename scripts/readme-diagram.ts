/** The README's generated statechart: the text between its diagram markers. */

export const START_MARKER = '<!-- diagram:start -->';
export const END_MARKER = '<!-- diagram:end -->';

/** What goes between the markers for a given Mermaid diagram. */
export function readmeBlock(mermaid: string): string {
  return `\n\`\`\`mermaid\n${mermaid.endsWith('\n') ? mermaid : `${mermaid}\n`}\`\`\`\n`;
}

function markers(readme: string): { start: number; end: number } {
  const start = readme.indexOf(START_MARKER);
  const end = readme.indexOf(END_MARKER);
  if (start === -1 || end === -1 || end < start || readme.indexOf(START_MARKER, start + 1) !== -1) {
    throw new Error(`README must contain ${START_MARKER} once, followed by ${END_MARKER}`);
  }
  return { start: start + START_MARKER.length, end };
}

/** The README with the block between the markers replaced; nothing outside them changes. */
export function withDiagram(readme: string, mermaid: string): string {
  const { start, end } = markers(readme);
  return `${readme.slice(0, start)}${readmeBlock(mermaid)}${readme.slice(end)}`;
}
