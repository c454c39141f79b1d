/**
 * Dev reload (SPEC 12): `npm run build && tsx bench/reload.ts` (or `--quick` for a smoke run).
 *
 * 1. Edit → first response with the new code, for N = 1, 50 and 200 plugins: a listening app
 *    under @fastify/restartable with `watch: true` (the default 100 ms debounce, included in the
 *    figures); one plugin's entry is rewritten and `GET` polls (every 5 ms, one keep-alive
 *    connection) until the new code answers. Median of 10 edits, split into the time until the
 *    new app starts building (fs event + debounce) and the build + swap.
 * 2. Memory after 100 reloads of one plugin: rss and heapUsed after a full GC, and the growth
 *    per reload (least-squares slope over samples taken every 10 reloads), for a small plugin
 *    and for one holding 1 MB at module level (what a replaced module instance keeps alive).
 *    Each in a fresh child process, so that the latency runs leave nothing in its figures.
 *
 * Everything runs in this process (the app, the edits and the client), as `npm run dev` does.
 * Prints a markdown table; writes nothing into the repository.
 */
import { spawn } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises'
import { Agent, request } from 'node:http'
import { cpus, platform, release, tmpdir, totalmem } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import type { AddressInfo } from 'node:net'
import { restartable } from '@fastify/restartable'
import type { FastifyInstance, FastifyServerOptions } from 'fastify'
import pluginKit from 'fastify-pluginkit'

const quick = process.argv.includes('--quick')
const SIZES = quick ? [1, 50] : [1, 50, 200]
const EDITS = quick ? 3 : 10
const MEMORY_RELOADS = quick ? 20 : 100
const MEMORY_EVERY = quick ? 5 : 10
const POLL_MS = 5

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

function median (values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[middle] as number : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2
}

/** Least-squares slope of y over x. */
function slope (points: Array<[number, number]>): number {
  const n = points.length
  const mx = points.reduce((sum, [x]) => sum + x, 0) / n
  const my = points.reduce((sum, [, y]) => sum + y, 0) / n
  const num = points.reduce((sum, [x, y]) => sum + (x - mx) * (y - my), 0)
  const den = points.reduce((sum, [x]) => sum + (x - mx) ** 2, 0)
  return den === 0 ? 0 : num / den
}

/** A plugin like a real one: a blueprint importing a helper module, a before_request hook, a slot template. */
function pluginEntry (name: string, tag: string, ballast = 0): string {
  return `import { greet } from './lib/helper.mjs'
${ballast > 0 ? `const ballast = Array.from({ length: ${ballast / 8} }, (_, index) => index + 0.5)\n` : ''}export default {
  name: ${JSON.stringify(name)},
  version: '1.0.0',
  author: 'bench',
  register () {
    return {
      bep: {
        prefix: '/${name}',
        blueprint: async (app) => { app.get('/', async () => greet(${JSON.stringify(tag)})${ballast > 0 ? ' + ballast.length' : ''}) }
      },
      hep: { before_request: async (request) => { if (request.headers['x-block-${name}'] !== undefined) return 'blocked' } },
      tep: { main: '${name}/part.html' }
    }
  }
}
`
}

async function writePlugins (root: string, count: number): Promise<void> {
  for (let index = 0; index < count; index++) {
    const name = `p${String(index).padStart(3, '0')}`
    const dir = join(root, 'plugins', name)
    await mkdir(join(dir, 'lib'), { recursive: true })
    await mkdir(join(dir, 'templates', name), { recursive: true })
    await writeFile(join(dir, 'index.mjs'), pluginEntry(name, 'v0'))
    await writeFile(join(dir, 'lib/helper.mjs'), "export const greet = (tag) => 'hello ' + tag\n")
    await writeFile(join(dir, 'templates', name, 'part.html'), `<section>${name}</section>\n`)
  }
}

interface Host {
  app: FastifyInstance
  port: number
  /** performance.now() when the factory last started building an app. */
  lastBuild: () => number
  close: () => Promise<void>
}

async function startHost (root: string): Promise<Host> {
  let lastBuild = 0
  async function factory (fastify: (opts: FastifyServerOptions) => FastifyInstance, opts: FastifyServerOptions): Promise<FastifyInstance> {
    lastBuild = performance.now()
    const app = fastify(opts)
    await app.register(pluginKit, { pluginsBase: root, store: 'memory', watch: true })
    return app
  }
  const app = await restartable(factory as unknown as Parameters<typeof restartable>[0], { logger: false }) as unknown as FastifyInstance
  await app.listen({ port: 0, host: '127.0.0.1' })
  return { app, port: (app.server.address() as AddressInfo).port, lastBuild: () => lastBuild, close: () => app.close() }
}

function client (port: number): { get: (path: string) => Promise<string>, close: () => void } {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 })
  const get = (path: string) => new Promise<string>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent }, (response) => {
      let body = ''
      response.setEncoding('utf8')
      response.on('data', (chunk: string) => { body += chunk })
      response.on('end', () => resolve(body))
      response.on('error', reject)
    })
    req.on('error', reject)
    req.end()
  })
  return { get, close: () => agent.destroy() }
}

/** Rewrites `name`'s entry with `tag` and polls until its route answers with it: [total ms, ms until the build started]. */
async function editAndWait (root: string, host: Host, http: ReturnType<typeof client>, name: string, tag: string, ballast = 0):
Promise<[number, number]> {
  const builtBefore = host.lastBuild()
  const start = performance.now()
  writeFileSync(join(root, 'plugins', name, 'index.mjs'), pluginEntry(name, tag, ballast))
  const expected = `hello ${tag}`
  const deadline = start + 30_000
  for (;;) {
    const body = await http.get(`/${name}/`)
    if (body.startsWith(expected)) break
    if (performance.now() > deadline) {
      throw new Error(`${name}: still ${body} after 30 s (reloadError: ${host.app.pluginKit.reloadError?.message ?? 'none'})`)
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS))
  }
  const total = performance.now() - start
  const build = host.lastBuild()
  return [total, build > builtBefore ? build - start : Number.NaN]
}

interface LatencyRow { n: number, median: number, min: number, max: number, untilBuild: number, buildAndSwap: number, bootMs: number }

async function latency (n: number): Promise<LatencyRow> {
  const root = await mkdtemp(join(tmpdir(), 'pluginkit-bench-reload-'))
  try {
    await writePlugins(root, n)
    const bootStart = performance.now()
    const host = await startHost(root)
    const bootMs = performance.now() - bootStart
    const http = client(host.port)
    try {
      // The edited plugin sits in the middle of the load order.
      const name = `p${String(Math.floor(n / 2)).padStart(3, '0')}`
      await editAndWait(root, host, http, name, 'warm')
      const totals: number[] = []
      const untilBuild: number[] = []
      for (let edit = 1; edit <= EDITS; edit++) {
        const [total, build] = await editAndWait(root, host, http, name, `v${edit}`)
        totals.push(total)
        untilBuild.push(build)
      }
      const reloads = host.app.pluginKit.reloads
      if (reloads !== EDITS + 1) console.error(`N=${n}: ${reloads} reloads for ${EDITS + 1} edits`)
      const m = median(totals)
      const b = median(untilBuild)
      return { n, median: m, min: Math.min(...totals), max: Math.max(...totals), untilBuild: b, buildAndSwap: m - b, bootMs }
    } finally {
      http.close()
      await host.close()
    }
  } finally {
    await rm(root, { recursive: true, force: true })
  }
}

interface MemoryRow { plugin: string, rss0: number, heap0: number, rss: number, heap: number, rssPerReload: number, heapPerReload: number }

function usage (): { rss: number, heap: number } {
  gc()
  gc()
  const { rss, heapUsed } = process.memoryUsage()
  return { rss: rss / 1024 / 1024, heap: heapUsed / 1024 / 1024 }
}

async function memory (label: string, ballast: number): Promise<MemoryRow> {
  const root = await mkdtemp(join(tmpdir(), 'pluginkit-bench-reload-'))
  try {
    await writePlugins(root, 10)
    const host = await startHost(root)
    const http = client(host.port)
    try {
      const name = 'p005'
      for (let edit = 0; edit < 5; edit++) await editAndWait(root, host, http, name, `warm${edit}`, ballast)
      const start = usage()
      const rss: Array<[number, number]> = [[0, start.rss]]
      const heap: Array<[number, number]> = [[0, start.heap]]
      let last = start
      for (let reload = 1; reload <= MEMORY_RELOADS; reload++) {
        await editAndWait(root, host, http, name, `m${reload}`, ballast)
        if (reload % MEMORY_EVERY === 0) {
          last = usage()
          rss.push([reload, last.rss])
          heap.push([reload, last.heap])
        }
      }
      return {
        plugin: label,
        rss0: start.rss,
        heap0: start.heap,
        rss: last.rss,
        heap: last.heap,
        rssPerReload: slope(rss) * 1024,
        heapPerReload: slope(heap) * 1024
      }
    } finally {
      http.close()
      await host.close()
    }
  } finally {
    await rm(root, { recursive: true, force: true })
  }
}

/** Runs one memory measurement in a fresh process (this file with `--memory <ballast>`, same loader flags). */
async function memoryInChild (label: string, ballast: number): Promise<MemoryRow> {
  const args = [...process.execArgv, fileURLToPath(import.meta.url), '--memory', String(ballast), label, ...(quick ? ['--quick'] : [])]
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  child.stdout.setEncoding('utf8')
  child.stdout.on('data', (chunk: string) => { out += chunk })
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve))
  if (code !== 0) throw new Error(`memory run for ${label} exited with ${code}`)
  return JSON.parse(out) as MemoryRow
}

const fixed = (value: number, digits = 0) => value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })

const lines: string[] = []
const log = (line = '') => {
  lines.push(line)
  console.log(line)
}

if (process.argv.includes('--memory')) {
  const at = process.argv.indexOf('--memory')
  const row = await memory(process.argv[at + 2] ?? '', Number(process.argv[at + 1]))
  process.stdout.write(JSON.stringify(row))
} else {
  log('# Dev reload (SPEC 12)')
  log()
  log(`Run ${new Date().toISOString()}${quick ? ' (quick smoke run: few edits; figures not meaningful)' : ''}.`)
  const machine = `${cpus().length} × ${cpus()[0]?.model.trim() ?? 'CPU'}, ${fixed(totalmem() / 1024 ** 3, 1)} GiB`
  log(`Machine: ${machine}, ${platform()} ${release()}, Node.js ${process.version}.`)
  log()
  log(`## Edit → first response with the new code (median of ${EDITS} edits; watch: true, 100 ms debounce included)`)
  log()
  log('Each plugin: a blueprint importing a helper module, an async before_request hook, a slot template. ' +
    'The edited plugin is the middle one.')
  log()
  log('| N plugins | boot ms | edit → new code, median ms | min | max | fs event + debounce ms | build + swap ms |')
  log('|---|---|---|---|---|---|---|')
  for (const n of SIZES) {
    const row = await latency(n)
    const cells = [row.n, fixed(row.bootMs), `**${fixed(row.median)}**`, fixed(row.min), fixed(row.max),
      fixed(row.untilBuild), fixed(row.buildAndSwap)]
    log(`| ${cells.join(' | ')} |`)
  }
  log()
  log(`## Memory after ${MEMORY_RELOADS} reloads of one plugin (10 plugins, a fresh process each; after gc(); ` +
    `slope over a sample every ${MEMORY_EVERY} reloads)`)
  log()
  log('| edited plugin | rss before MB | rss after MB | heapUsed before MB | heapUsed after MB | rss KB / reload | ' +
    'heapUsed KB / reload |')
  log('|---|---|---|---|---|---|---|')
  for (const [label, ballast] of [['small (as above)', 0], ['holding 1 MB at module level', 1024 * 1024]] as const) {
    const row = await memoryInChild(label, ballast)
    log(`| ${row.plugin} | ${fixed(row.rss0, 1)} | ${fixed(row.rss, 1)} | ${fixed(row.heap0, 1)} | ${fixed(row.heap, 1)} | ` +
      `**${fixed(row.rssPerReload)}** | **${fixed(row.heapPerReload)}** |`)
  }
}
