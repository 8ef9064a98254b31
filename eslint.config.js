// Lint: typescript-eslint's recommended rules on the sources; formatting is prettier's job.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'node_modules/**',
      '.services/**',
      '.cache/**',
      'test/fixtures/**',
      // lightweight-charts' own minified build, copied from npm by `npm run vendor:dashboard`
      'dashboard/vendor/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-constant-condition': ['error', { checkLoops: false }],
    },
  },
  {
    files: ['bin/**/*.js', 'scripts/**/*.js'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly' } },
  },
  {
    // the dashboard: plain ES modules in the browser, no build step
    files: ['dashboard/**/*.js'],
    languageOptions: {
      sourceType: 'module',
      globals: Object.fromEntries(
        [
          'window',
          'document',
          'location',
          'history',
          'sessionStorage',
          'crypto',
          'fetch',
          'WebSocket',
          'URL',
          'URLSearchParams',
          'TextEncoder',
          'TextDecoder',
          'Option',
          'getComputedStyle',
          'requestAnimationFrame',
          'setTimeout',
          'clearTimeout',
          'atob',
          'btoa',
          'globalThis',
          'console',
        ].map((name) => [name, 'readonly']),
      ),
    },
  },
);
