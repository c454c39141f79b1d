import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import { connect, createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TestContext } from 'node:test'
import { findRedisServer, requireRedisServer } from './helpers-services.ts'

export interface RedisServer {
  /** `redis://127.0.0.1:<port>` */
  readonly url: string
  readonly port: number
  /** redis-server's working directory (a temporary folder). */
  readonly dir: string
  /** The pid of the running redis-server, undefined while stopped. */
  readonly pid: number | undefined
  /** Stops redis-server (SIGTERM to its pid) and waits until it has exited. */
  stop (): Promise<void>
  /**
   * Starts redis-server again on the same port and waits until it answers PING.
   * `requirepass`: start it with a password, so that clients which do not know it cannot
   * use it until `CONFIG SET requirepass ''`.
   */
  start (options?: { requirepass?: string }): Promise<void>
}

/** A free TCP port on the loopback interface. */
export async function freePort (): Promise<number> {
  const server = createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const address = server.address()
  const port = typeof address === 'object' && address !== null ? address.port : 0
  server.close()
  await once(server, 'close')
  return port
}

/** Resolves true when a Redis server on `port` answers PING with PONG (or NOAUTH). */
function pings (port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port })
    let answer = ''
    const done = (ok: boolean) => {
      socket.destroy()
      resolve(ok)
    }
    socket.setTimeout(500, () => done(false))
    socket.on('error', () => done(false))
    socket.on('connect', () => socket.write('PING\r\n'))
    socket.on('data', (chunk) => {
      answer += chunk.toString('latin1')
      if (answer.includes('\r\n')) done(answer.startsWith('+PONG') || answer.startsWith('-NOAUTH'))
    })
  })
}

const running = new Set<ChildProcess>()
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL')
})

/**
 * Spawns `redis-server --port <free port> --bind 127.0.0.1 --save '' --appendonly no` (no
 * persistence, working directory in a fresh temporary folder) and waits until it accepts
 * connections. Stopped by pid when the test ends. When redis-server is not installed the
 * test is skipped with a notice (or fails with PLUGINKIT_REQUIRE_SERVICES=1) and
 * `undefined` is returned: the caller returns.
 */
export async function startRedis (t: TestContext): Promise<RedisServer | undefined> {
  const binary = requireRedisServer(t)
  if (binary === undefined) return undefined
  const server = await launchRedis(binary)
  t.after(async () => {
    await server.stop()
    await rm(server.dir, { recursive: true, force: true })
  })
  return server
}

/** startRedis without a test context: throws when redis-server is missing. */
export async function launchRedis (binary = findRedisServer()): Promise<RedisServer> {
  if (binary === undefined) throw new Error('redis-server is not installed: apt-get install -y redis-server')
  let port = await freePort()
  const dir = await mkdtemp(join(tmpdir(), 'pluginkit-redis-'))
  let child: ChildProcess | undefined
  let output = ''

  async function start (options: { requirepass?: string } = {}): Promise<void> {
    if (child !== undefined) throw new Error('redis-server is already running')
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--daemonize', 'no']
    if (options.requirepass !== undefined) args.push('--requirepass', options.requirepass)
    output = ''
    const spawned = spawn(binary as string, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    child = spawned
    running.add(spawned)
    spawned.stdout?.on('data', (chunk: Buffer) => { output += chunk.toString() })
    spawned.stderr?.on('data', (chunk: Buffer) => { output += chunk.toString() })
    let exited = false
    spawned.once('exit', () => {
      exited = true
      running.delete(spawned)
    })
    const deadline = Date.now() + 10_000
    for (;;) {
      if (exited || Date.now() > deadline) {
        spawned.kill('SIGKILL')
        child = undefined
        throw new Error(`redis-server did not start on port ${port}:\n${output}`)
      }
      // Ours is ready when it says so itself: a PING alone may be answered by another test
      // file's redis-server that took the port meanwhile (this one then exits, unable to bind).
      if (output.includes('Ready to accept connections') && await pings(port) && !exited) return
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
  }

  async function stop (): Promise<void> {
    const current = child
    if (current === undefined) return
    child = undefined
    if (current.exitCode === null && current.signalCode === null) {
      const exited = once(current, 'exit')
      process.kill(current.pid as number, 'SIGTERM')
      await exited
    }
  }

  // The free port may be taken by someone else before redis-server binds it: try another.
  for (let attempt = 1; ; attempt++) {
    try {
      await start()
      break
    } catch (error) {
      if (attempt === 3) throw error
      port = await freePort()
    }
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    dir,
    get pid () { return child?.pid },
    start,
    async stop () {
      await stop()
    }
  }
}
