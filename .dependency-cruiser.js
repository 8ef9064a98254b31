// Layer rules as code (docs/STYLE: "Layer rules as code"), run by `npm run lint` as `depcruise src bin`.
// Direction: cli → streams → operators → models / sinks / monitoring → indicators / bars → domain → errors.ts,
// with config (one typed, validated config) read by the composition root and the I/O adapters only.
// Tests (*.test.ts beside the code, everything under test/) may import any layer; the rules bind production code.
// test/unit/layer-rules.test.ts shows each kind of rule failing on a deliberately wrong import.

const TEST_FILE = '\\.test\\.ts$';

/**
 * Production code of each src/ folder may import only itself, the folders listed here and src/errors.ts.
 * Peers do not import each other (models, sinks and monitoring; indicators and bars): a sink knows only its
 * interface, a model only its features. Widen a list only with the ADR that moves the layer.
 */
/** What src/streams (the composition root's layer) may import; src/cli may import it too, and streams itself. */
const BELOW_STREAMS = [
  'api',
  'security',
  'operators',
  'models',
  'sinks',
  'monitoring',
  'config',
  'indicators',
  'bars',
  'domain',
];

const LAYERS = {
  cli: ['streams', ...BELOW_STREAMS],
  streams: BELOW_STREAMS,
  api: ['security', 'models', 'sinks', 'monitoring', 'config', 'domain'],
  security: ['config', 'domain'],
  operators: ['models', 'sinks', 'monitoring', 'indicators', 'bars', 'domain'],
  models: ['config', 'indicators', 'bars', 'domain'],
  sinks: ['config', 'indicators', 'bars', 'domain'],
  monitoring: ['config', 'indicators', 'bars', 'domain'],
  config: ['domain'],
  indicators: ['domain'],
  bars: ['domain'],
  domain: [],
};

/** @type {import('dependency-cruiser').IForbiddenRuleType[]} */
const layerRules = Object.entries(LAYERS).map(([layer, allowed]) => ({
  name: `layer-${layer}`,
  comment: `src/${layer} may import only ${[...allowed, 'errors.ts'].join(', ')} (and itself) in src/`,
  severity: 'error',
  from: { path: `^src/${layer}/`, pathNot: TEST_FILE },
  to: { path: '^src/', pathNot: [`^src/(${[layer, ...allowed].join('|')})/`, '^src/errors\\.ts$'] },
}));

/** @type {import('dependency-cruiser').IConfiguration} */
export default {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'No import cycles: a layer reads as a tree, and a cycle is a layer rule waiting to break.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'not-to-test',
      comment:
        'Production code (src/ outside *.test.ts, bin/) never imports tests, benchmarks or test libraries.',
      severity: 'error',
      from: { path: '^(src|bin)/', pathNot: TEST_FILE },
      to: {
        path: ['^(test|benchmarks)/', TEST_FILE, '(^|/)node_modules/(vitest|@vitest/[^/]+|fast-check)/'],
      },
    },
    {
      name: 'not-to-dev-dep',
      comment:
        'Production code imports only dependencies (the image prunes devDependencies); types excepted.',
      severity: 'error',
      from: { path: '^src/', pathNot: TEST_FILE },
      to: {
        dependencyTypes: ['npm-dev'],
        dependencyTypesNot: ['type-only'],
        pathNot: ['(^|/)node_modules/@types/'],
      },
    },
    {
      name: 'no-non-package-json',
      comment: 'Every package src/ imports is declared in package.json.',
      severity: 'error',
      from: { path: '^src/' },
      to: { dependencyTypes: ['npm-no-pkg', 'npm-unknown'] },
    },
    {
      name: 'not-to-unresolvable',
      comment: 'Every import in src/ resolves.',
      severity: 'error',
      from: { path: '^src/' },
      to: { couldNotResolve: true },
    },
    {
      name: 'layer-errors',
      comment: 'src/errors.ts is the bottom of the graph: it imports nothing from src/.',
      severity: 'error',
      from: { path: '^src/errors\\.ts$' },
      to: { path: '^src/' },
    },
    ...layerRules,
  ],
  options: {
    doNotFollow: { path: ['(^|/)node_modules/', '^dist/'] },
    // count `import type` too: a type-only import up the layers is still a dependency on that layer
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      mainFields: ['module', 'main', 'types', 'typings'],
    },
    skipAnalysisNotInRules: true,
  },
};
