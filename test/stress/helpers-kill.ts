import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'

type Output = { stdout: string, stderr: string }

/**
 * Runs `node <script> <arg>` and SIGKILLs it `delayMs` after it prints `READY ` (or after
 * spawning, when `early`); returns what it printed. The child must die by the kill: one that
 * exits on its own (or before READY) fails the test with its output. `what` names it in messages.
 */
export async function killAfter (script: string, arg: string, delayMs: number, early: boolean, what: string): Promise<Output> {
  const child = spawn(process.execPath, [script, arg], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => { stdout += chunk })
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk })
  const closed = once(child, 'close')
  const kill = () => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL') }
  const guard = setTimeout(kill, 30_000)
  try {
    if (!early) {
      await new Promise<void>((resolve, reject) => {
        const check = () => {
          if (stdout.includes('READY ')) {
            child.stdout.off('data', check)
            resolve()
          }
        }
        child.stdout.on('data', check)
        child.once('exit', () => reject(new Error(`the ${what} exited before READY:\n${stdout}\n${stderr}`)))
      })
    }
    await new Promise((resolve) => setTimeout(resolve, delayMs))
    kill()
    const [code, signal] = await closed as [number | null, NodeJS.Signals | null]
    assert.equal(signal, 'SIGKILL', `the ${what} was killed, not exited (code ${code}):\n${stdout}\n${stderr}`)
  } finally {
    clearTimeout(guard)
    kill()
  }
  return { stdout, stderr }
}
