import neostandard from 'neostandard'

export default [
  ...neostandard({
    ts: true,
    ignores: ['dist/**', 'bench/.work/**', 'node_modules/**', '**/node_modules/**', 'coverage/**', 'test/fixtures/**/broken-syntax/**']
  }),
  {
    rules: {
      // Long lines hide what changed in a diff and wrap in review tools (issue #12).
      '@stylistic/max-len': ['error', { code: 140, ignoreUrls: true }]
    }
  },
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'error'
    }
  }
]
