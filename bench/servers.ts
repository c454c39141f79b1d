/** Benchmark servers as child processes (`bench/server.ts`), for `run.ts` and `profile.ts`. */
import { spawn } from 'node:child_process'
import { readFile, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import type { Variant } from './server.ts'

const here = dirname(fileURLToPath(import.meta.url))

export interface Server {
  port: number
  bootMs: number
  rssMb: number
  /** SIGTERM ends it at once; SIGINT closes the app first (so `--cpu-prof` writes its profile). */
  stop: (signal?: 'SIGTERM' | 'SIGINT') => Promise<void>
}

export interface StartOptions {
  /** Exit right after booting (boot time and memory only). */
  exitAfterBoot?: boolean
  /** Extra Node.js flags, e.g. `--cpu-prof`. */
  nodeArgs?: string[]
}

export async function startServer (
  variant: Variant,
  options: Record<string, unknown>,
  { exitAfterBoot = false, nodeArgs = [] }: StartOptions = {}
): Promise<Server> {
  const args = ['--expose-gc', ...nodeArgs, '--import', 'tsx', join(here, 'server.ts'), variant, JSON.stringify(options)]
  // BENCH_SERVER_CPU=0 pins the server to CPU 0 (taskset), e.g. with the load generator pinned to CPU 1 (`taskset -c 1 ...`).
  const cpu = process.env.BENCH_SERVER_CPU
  const [command, commandArgs] = cpu === undefined ? [process.execPath, args] : ['taskset', ['-c', cpu, process.execPath, ...args]]
  const child = spawn(command, commandArgs, {
    env: { ...process.env, NODE_ENV: 'production', BENCH_EXIT_AFTER_BOOT: exitAfterBoot ? '1' : '0' },
    stdio: ['ignore', 'pipe', 'inherit']
  })
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout }).once('line', resolve)
    child.once('exit', (code) => reject(new Error(`${variant} exited with ${code} before listening`)))
  })
  const info = JSON.parse(line) as { port: number, bootMs: number, rssMb: number }
  const stop = async (signal: 'SIGTERM' | 'SIGINT' = 'SIGTERM') => {
    if (child.exitCode !== null) return
    const exited = new Promise((resolve) => child.once('exit', resolve))
    child.kill(signal)
    await exited
  }
  return { ...info, stop }
}

/** Starts the named servers, runs `body` with them, and always stops every one that started. */
export async function withServers<Name extends string> (
  specs: Record<Name, [Variant, Record<string, unknown>]>,
  body: (servers: Record<Name, Server>) => Promise<void>
): Promise<void> {
  const servers: Partial<Record<Name, Server>> = {}
  try {
    for (const [name, [variant, options]] of Object.entries(specs) as Array<[Name, [Variant, Record<string, unknown>]]>) {
      servers[name] = await startServer(variant, options)
    }
    await body(servers as Record<Name, Server>)
  } finally {
    for (const server of Object.values(servers) as Server[]) await server.stop()
  }
}

/** One boot (and swaps) of `boot-server.ts` in a fresh process. */
export interface BootSample { bootMs: number, rssMb: number, cpuMs: number, swapMs: number[] }

/**
 * `boot-server.ts` as JavaScript in the host project (`hostProject()`), so that JavaScript
 * hosts boot under plain `node`: tsx's loader would see every module each side imports.
 */
export async function bootScript (host: string): Promise<string> {
  const { default: ts } = await import('typescript')
  const { outputText } = ts.transpileModule(await readFile(join(here, 'boot-server.ts'), 'utf8'), {
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 }
  })
  const script = join(host, 'boot-server.mjs')
  await writeFile(script, outputText)
  return script
}

export async function bootOnce (
  script: string, variant: 'kit' | 'autoload', options: { folder: string, swaps?: number }, typescript: boolean
): Promise<BootSample> {
  const args = ['--expose-gc', ...(typescript ? ['--import', 'tsx'] : []), script, variant, JSON.stringify(options)]
  const child = spawn(process.execPath, args, {
    cwd: dirname(script),
    // autoload looks for tsx among the preloaded modules, which `--import` does not list: this is its documented switch.
    env: { ...process.env, NODE_ENV: 'production', ...(typescript ? { FASTIFY_AUTOLOAD_TYPESCRIPT: '1' } : {}) },
    stdio: ['ignore', 'pipe', 'inherit']
  })
  let output = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => { output += chunk })
  const code = await new Promise((resolve) => child.once('exit', resolve))
  if (code !== 0) throw new Error(`boot-server ${variant} exited with ${String(code)}`)
  return JSON.parse(output.trim().split('\n').pop() as string) as BootSample
}
