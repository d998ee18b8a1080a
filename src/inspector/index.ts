/** The live view of a connection's statechart: `serveInspector(conn)` and `socketchart inspect <url>`. */
export {
  type InspectableConnection,
  type InspectorLogEntry,
  type InspectorOptions,
  type InspectorServer,
  type InspectorState,
  resolveMermaidScript,
  serveInspector,
} from './server.js';
export { type ChartDescription, activePaths, describeChart, leafPaths } from './chart.js';
