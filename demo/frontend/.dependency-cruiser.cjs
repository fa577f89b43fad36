/**
 * The page's import graph, checked in `npm test` (make test-frontend): data
 * flows one way. `app/` (controller and its helpers) sits under the
 * components; `api/` (transport) and `state/` (pure rules) sit under
 * everything and may lean only on each other and the RLE codec.
 */
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-cycles',
      severity: 'error',
      comment: 'An import loop ties modules together so neither can be read, tested or changed alone.',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'api-state-stay-low',
      severity: 'error',
      comment: 'api/ and state/ are the bottom layer: no imports from the app, the components, the renderer or the exports.',
      from: { path: '^src/(api|state)/' },
      to: { path: '^src/', pathNot: ['^src/(api|state)/', '^src/render/rle\\.ts$'] },
    },
    {
      name: 'app-below-components',
      severity: 'error',
      comment: 'The controller and its helpers do not know the components that show them.',
      from: { path: '^src/app/' },
      to: { path: '^src/components/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '\\.test\\.tsx?$|__fixtures__' },
    // Type-only imports count: a loop of types is still a loop a reader has to untangle.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.app.json' },
  },
};
