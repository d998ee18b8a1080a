// examples/replay-react/everyPath.test.ts is the example (shipped with the package); this runs it in the suite.
import '../../examples/replay-react/everyPath.test.js';
