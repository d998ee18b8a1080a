// examples/replay-function/badge.test.ts is the example (shipped with the package); this runs it in the suite.
import '../../examples/replay-function/badge.test.js';
