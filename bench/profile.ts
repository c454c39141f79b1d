/**
 * Where a request's time goes: `npm run bench:profile -- <kit|hand|bare|hello-kit|hello-hand|hello-bare> <N> <async|sync|none> [seconds]`.
 * Runs one benchmark server under `node --cpu-prof`, loads `/p<N-1>/` with autocannon,
 * and prints each function's self time per request, counting only the samples taken
 * during the measured run (not boot, not warm-up).
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import autocannon from 'autocannon'
import { generate, type HandlerStyle } from './generate.ts'
import { startServer } from './servers.ts'
import type { Variant } from './server.ts'

interface CpuProfile {
  nodes: Array<{ id: number, callFrame: { functionName: string, url: string, lineNumber: number } }>
  startTime: number
  samples: number[]
  timeDeltas: number[]
}

const here = dirname(fileURLToPath(import.meta.url))
const [variant = 'kit', count = '200', style = 'async', seconds = '5'] = process.argv.slice(2)
const N = Number(count)
const { plugins, hand } = await generate(join(here, '.work'), N, style as HandlerStyle)
const profiles = await mkdtemp(join(tmpdir(), 'pluginkit-profile-'))

const server = await startServer(
  variant as Variant,
  { count: N, folder: variant === 'kit' ? plugins : hand },
  { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${profiles}`] }
)
// The helloworld variants (hello-kit, hello-hand, hello-bare) serve the host's index page.
const url = `http://127.0.0.1:${server.port}${variant.startsWith('hello-') ? '/' : `/p${N - 1}/`}`
await autocannon({ url, connections: 50, duration: 2 })
// V8 stamps samples with the monotonic clock, which process.hrtime reads too.
const from = Number(process.hrtime.bigint() / 1000n)
const result = await autocannon({ url, connections: 50, duration: Number(seconds) })
const to = Number(process.hrtime.bigint() / 1000n)
// SIGINT: the server closes cleanly, so Node writes the profile.
await server.stop('SIGINT')

// The main thread's profile is the largest (the other is tsx's loader thread).
const files = await Promise.all((await readdir(profiles)).map(async (name) => await readFile(join(profiles, name), 'utf8')))
const profile = JSON.parse(files.sort((a, b) => b.length - a.length)[0] as string) as CpuProfile
await rm(profiles, { recursive: true, force: true })

const frames = new Map(profile.nodes.map((node) => [node.id, node.callFrame]))
const selfUs = new Map<string, number>()
const categoryUs = new Map<string, number>()
// Buckets that answer "who pays": the plugins' own handlers, hook dispatch (the kit's or
// Fastify's), the promise machinery, GC, and the socket write.
const categoryOf = (url: string, name: string): string => {
  if (/\.work\/host\/(plugins|hand)-/.test(url)) return 'handlers (plugin code)'
  if (url.endsWith('dist/hook-runner.js') || url.endsWith('fastify/lib/hooks.js')) return 'hook dispatch (kit or Fastify)'
  if (name === 'runMicrotasks') return 'microtasks'
  if (name === '(garbage collector)') return 'GC'
  if (name === 'writev') return 'writev (socket write)'
  if (name === '(idle)') return 'idle'
  return 'rest (HTTP, Fastify, Node)'
}
let at = profile.startTime
for (let index = 0; index < profile.samples.length; index++) {
  at += profile.timeDeltas[index] ?? 0
  const delta = profile.timeDeltas[index + 1] ?? 0
  if (at < from || at > to) continue
  const frame = frames.get(profile.samples[index] as number)
  if (frame === undefined) continue
  const file = frame.url.split('/').slice(-2).join('/')
  const key = `${frame.functionName || '(anonymous)'} ${file}${frame.url === '' ? '' : `:${frame.lineNumber + 1}`}`
  selfUs.set(key, (selfUs.get(key) ?? 0) + delta)
  const category = categoryOf(frame.url, frame.functionName)
  categoryUs.set(category, (categoryUs.get(category) ?? 0) + delta)
}
const requests = result.requests.total
const busy = [...selfUs].filter(([key]) => !key.startsWith('(idle)')).reduce((sum, [, us]) => sum + us, 0)
console.log(`${variant}, N = ${N}, ${style} handlers: ${Math.round(result.requests.average)} req/s under the profiler, ` +
  `${(busy / requests).toFixed(1)} µs of main-thread time per request\n`)
const perRequest = (us: number) => (us / requests).toFixed(2).padStart(10)
for (const [category, us] of [...categoryUs].sort((a, b) => b[1] - a[1])) console.log(`${perRequest(us)}  ${category}`)
console.log('\nµs/request  function')
for (const [key, us] of [...selfUs].sort((a, b) => b[1] - a[1]).slice(0, 25)) console.log(`${perRequest(us)}  ${key}`)
