/**
 * One benchmark server, run as a child process: `tsx bench/server.ts <variant> <json options>`.
 * Prints one JSON line `{ port, bootMs, rssMb }` when listening on 127.0.0.1.
 */
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import Fastify, { type FastifyInstance, type FastifyPluginAsync, type FastifyRequest } from 'fastify'
import fastifyStatic from '@fastify/static'
import fastifyView from '@fastify/view'
import nunjucks from 'nunjucks'
import pluginKit from 'fastify-pluginkit'
import { handTemplateFolders } from './fixtures.ts'

export type Variant = 'kit' | 'hand' | 'bare' | 'static-kit' | 'static-direct' | 'page-kit' | 'page-hand' |
  'hello-kit' | 'hello-hand' | 'hello-bare'

interface Options {
  count: number
  /** kit: the generated plugins folder; hand and bare: the hand-wired modules. */
  folder?: string
  /** Static and page scenarios: the folder written by fixtures.ts. */
  fixtures?: string
  /** kit: mount the admin (no authorization: loopback benchmark only). */
  admin?: boolean
  /** kit: the `metrics` and `trace` options (SPEC 13), given only when set here. */
  metrics?: boolean
  trace?: boolean
  /** kit: an OpenTelemetry SDK and @fastify/otel first, as a traced app has them (bench/otel.ts). */
  otel?: boolean
}

const here = dirname(fileURLToPath(import.meta.url))
const helloworld = join(here, '..', 'example-app', 'plugins', 'helloworld')
// Not this machine's address, so that the helloworld hook lets GET / through (its default, 127.0.0.1, would redirect every request).
const limitIp = '192.0.2.1'

/** The example's helloworld plugin wired by hand: its /limit route and its before_request as a callback-style onRequest hook. */
function helloByHand (app: FastifyInstance, withHook: boolean): void {
  app.register(async (blueprint) => { blueprint.get('/limit', async () => ({ status: 0, message: 'Access Denial' })) })
  if (!withHook) return
  const clientIp = (request: FastifyRequest): string => {
    const realIp = request.headers['x-real-ip']
    return (Array.isArray(realIp) ? realIp[0] : realIp) ?? request.ip
  }
  app.addHook('onRequest', (request, reply, done) => {
    if (request.routeOptions.url === '/' && clientIp(request) === limitIp) {
      reply.redirect('/limit')
      return
    }
    done()
  })
}

/** Hand-wired: each plugin's module registers its routes under its prefix, and its hooks app-wide (unless `withHooks` is false: bare). */
async function handWired (app: FastifyInstance, folder: string, count: number, withHooks: boolean): Promise<void> {
  for (let index = 0; index < count; index++) {
    const url = pathToFileURL(join(folder, `p${index}.mjs`)).href
    const plugin = await import(url) as { routes: FastifyPluginAsync, hooks: FastifyPluginAsync }
    app.register(plugin.routes, { prefix: `/p${index}` })
    if (withHooks) app.register(plugin.hooks)
  }
}

async function build (variant: Variant, options: Options): Promise<FastifyInstance> {
  const app = Fastify({ logger: false, pluginTimeout: 120000 })
  app.get('/', async () => 'hello world')
  switch (variant) {
    case 'kit':
      if (options.otel === true) await (await import('./otel.ts')).registerOtel(app)
      await app.register(pluginKit, {
        pluginsBase: here,
        pluginsFolder: options.folder as string,
        store: 'memory',
        loadTimeout: 100000,
        ...(options.admin === true ? { admin: { authorize: () => true } } : {}),
        ...(options.metrics === undefined ? {} : { metrics: options.metrics }),
        ...(options.trace === undefined ? {} : { trace: options.trace })
      })
      break
    case 'hand':
      await handWired(app, options.folder as string, options.count, true)
      break
    case 'bare':
      await handWired(app, options.folder as string, options.count, false)
      break
    case 'hello-kit':
      await app.register(pluginKit, {
        pluginsBase: here, pluginsFolder: false, pluginDirs: [helloworld], store: 'memory', pluginConfig: { helloworld: { limitIp } }
      })
      break
    case 'hello-hand':
    case 'hello-bare':
      helloByHand(app, variant === 'hello-hand')
      break
    case 'static-kit':
      await app.register(pluginKit, { pluginsBase: options.fixtures as string, store: 'memory' })
      break
    case 'static-direct':
      await app.register(fastifyStatic, { root: join(options.fixtures as string, 'plugins', 'theme', 'static'), prefix: '/assets/theme/' })
      break
    case 'page-kit':
      await app.register(pluginKit, { pluginsBase: options.fixtures as string, store: 'memory', view: { templates: 'templates' } })
      app.get('/page', (_request, reply) => reply.view('slots.html', { title: 'bench' }))
      break
    case 'page-hand':
      await app.register(fastifyView, {
        engine: { nunjucks },
        templates: [join(options.fixtures as string, 'hand'), ...handTemplateFolders(options.fixtures as string)]
      })
      app.get('/page', (_request, reply) => reply.view('includes.html', { title: 'bench' }))
      break
  }
  return app
}

const [variant, json] = process.argv.slice(2)
const options = JSON.parse(json ?? '{}') as Options
const started = performance.now()
const app = await build(variant as Variant, options)
// The load generator reads the server's CPU time around each run: CPU µs per request is a
// steadier measure than req/s on a machine shared with noisy neighbours.
app.get('/__bench/cpu', async () => process.cpuUsage())
await app.ready()
const bootMs = performance.now() - started
globalThis.gc?.()
const rssMb = process.memoryUsage().rss / 1024 / 1024
if (process.env.BENCH_MEMORY_DETAIL === '1') console.error(JSON.stringify(process.memoryUsage()))
await app.listen({ port: 0, host: '127.0.0.1' })
const address = app.server.address()
const port = typeof address === 'object' && address !== null ? address.port : 0
process.stdout.write(JSON.stringify({ port, bootMs, rssMb }) + '\n')
if (process.env.BENCH_EXIT_AFTER_BOOT === '1') await app.close()
// A clean exit on SIGINT lets `node --cpu-prof` write its profile.
process.once('SIGINT', () => { app.close().then(() => process.exit(0), () => process.exit(1)) })
