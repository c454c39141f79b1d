import neostandard from 'neostandard'

export default [
  ...neostandard({ ts: true, ignores: ['dist/**', 'bench/.work/**', 'node_modules/**', '**/node_modules/**', 'coverage/**', 'test/fixtures/**/broken-syntax/**'] }),
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'error'
    }
  }
]
