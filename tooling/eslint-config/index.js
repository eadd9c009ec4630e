import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { kebabCaseFiles } from './kebab-case-files.js';

/**
 * The ONEX lint configuration: type-aware typescript-eslint, no floating promises, exhaustive switches,
 * no `any`, kebab-case file names.
 *
 * @param {string} tsconfigRootDir the package folder (pass `import.meta.dirname`)
 */
export function onexLint(tsconfigRootDir) {
  return tseslint.config(
    { ignores: ['dist/**', 'node_modules/**', '**/*.js', '**/*.mjs', '**/*.cjs'] },
    js.configs.recommended,
    ...tseslint.configs.recommendedTypeChecked,
    {
      languageOptions: {
        parserOptions: { projectService: true, tsconfigRootDir },
      },
      plugins: { onex: { rules: { 'kebab-case-files': kebabCaseFiles } } },
      rules: {
        'onex/kebab-case-files': 'error',
        '@typescript-eslint/no-floating-promises': 'error',
        '@typescript-eslint/switch-exhaustiveness-check': 'error',
        '@typescript-eslint/no-explicit-any': 'error',
        '@typescript-eslint/consistent-type-imports': 'error',
        '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
        '@typescript-eslint/only-throw-error': 'error',
        '@typescript-eslint/require-await': 'off',
      },
    },
    {
      files: ['**/*.test.ts', 'test/**/*.ts', 'bench/**/*.ts'],
      rules: {
        '@typescript-eslint/no-unsafe-assignment': 'off',
        '@typescript-eslint/no-unsafe-member-access': 'off',
        '@typescript-eslint/no-non-null-assertion': 'off',
        '@typescript-eslint/unbound-method': 'off',
      },
    },
  );
}
