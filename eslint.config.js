// One linter for the tree (typescript-eslint, non-type-checked rules so a lint run stays fast);
// formatting is Prettier's job, so no stylistic rules here.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: [
      // AssemblyScript (function decorators, i32/usize types) is checked by asc, not by a TypeScript parser.
      'filter/assembly/',
      'node_modules/',
      'dist/',
      'filter/build/',
      '.tap/',
      'test/golden/',
      'oclif.manifest.json',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      ecmaVersion: 2023,
      sourceType: 'module',
      globals: {
        process: 'readonly',
        console: 'readonly',
        Buffer: 'readonly',
        URL: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
        setImmediate: 'readonly',
        WebAssembly: 'readonly',
        TextEncoder: 'readonly',
        TextDecoder: 'readonly',
        AbortController: 'readonly',
        performance: 'readonly',
        queueMicrotask: 'readonly',
        fetch: 'readonly',
        structuredClone: 'readonly',
      },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' },
      ],
    },
  },
  {
    // AssemblyScript: its own type names (i32, usize, …) and decorators that TypeScript's rules do not know.
    files: ['filter/assembly/**/*.ts', 'test/fixtures/**/*.ts', 'bench/fixtures/**/*.ts'],
    rules: { 'no-undef': 'off', '@typescript-eslint/no-unused-vars': 'off', 'prefer-const': 'off' },
  },
);
