/** Benchmark servers as child processes (`bench/server.ts`), for `run.ts` and `profile.ts`. */
import { spawn } from 'node:child_process'
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
  const child = spawn(process.execPath, args, {
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
