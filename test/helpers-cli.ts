import { spawn } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..')
export const cli = join(repoRoot, 'dist', 'cli.js')

export interface Result { code: number | null, stdout: string, stderr: string }

/** Runs `node <args>` in `cwd` and collects its output. */
export function node (args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): Promise<Result> {
  return new Promise((resolve, reject) => {
    // Without NODE_TEST_CONTEXT, a child `node --test` reports as a standalone run would.
    const { NODE_TEST_CONTEXT: _context, ...parentEnv } = process.env
    const child = spawn(process.execPath, args, { cwd, env: { ...parentEnv, NO_COLOR: '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => { stdout += chunk })
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk })
    child.once('error', reject)
    child.once('close', (code) => resolve({ code, stdout, stderr }))
  })
}

/** Runs the real command: `node dist/cli.js <args>`. */
export function pluginkit (args: string[], cwd: string, env?: NodeJS.ProcessEnv): Promise<Result> {
  return node([cli, ...args], cwd, env)
}
