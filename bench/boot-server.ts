/**
 * Boot and swap, one fresh process per measurement. `run.ts` transpiles this file to
 * JavaScript in the generated host project (bench/.work/host/), so that the JavaScript rows run
 * under plain `node`, as a host in production does, and the TypeScript rows under
 * `node --import tsx`. It imports bare specifiers only: the host's node_modules link them.
 *
 * argv: <kit|autoload> <json options>. Prints one JSON line: { bootMs, rssMb, cpuMs, swapMs }.
 * bootMs runs from before the variant's own module is imported to `ready`, so the kit's
 * lazily loaded implementation is counted, as autoload's is.
 */
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'

interface Options {
  /** kit: the plugins folder; autoload: the routes folder. */
  folder: string
  /** restart() this many times after the cold boot (kit under @fastify/restartable). */
  swaps?: number
}

const [variant, json] = process.argv.slice(2)
const options = JSON.parse(json ?? '{}') as Options
const serverOptions: FastifyServerOptions = { logger: false, pluginTimeout: 120000 }

const started = performance.now()
let register: (app: FastifyInstance) => Promise<void>
if (variant === 'kit') {
  const { default: pluginKit } = await import('fastify-pluginkit')
  register = async (app) => {
    await app.register(pluginKit, { pluginsFolder: options.folder, store: 'memory', loadTimeout: 100000 })
  }
} else {
  const { default: autoload } = await import('@fastify/autoload')
  register = async (app) => { await app.register(autoload, { dir: options.folder, dirNameRoutePrefix: true }) }
}
async function build (app: FastifyInstance): Promise<FastifyInstance> {
  app.get('/', async () => 'hello world')
  await register(app)
  return app
}

let app: FastifyInstance
const swapMs: number[] = []
if (options.swaps === undefined) {
  app = await build(Fastify(serverOptions))
  await app.ready()
} else {
  // What install and dev reload do: the host under @fastify/restartable, swapped with the same plugins.
  const { restartable } = await import('@fastify/restartable')
  app = await restartable(async (fastify, factoryOptions) => await build(fastify(factoryOptions)), serverOptions)
  await app.ready()
}
const bootMs = performance.now() - started
const cpu = process.cpuUsage()
globalThis.gc?.()
const rssMb = process.memoryUsage().rss / 1024 / 1024
if (options.swaps !== undefined) {
  await app.listen({ port: 0, host: '127.0.0.1' })
  for (let swap = 0; swap < options.swaps; swap++) {
    const at = performance.now()
    await app.restart()
    swapMs.push(performance.now() - at)
  }
}
const cpuMs = (cpu.user + cpu.system) / 1000
process.stdout.write(JSON.stringify({ bootMs, rssMb, cpuMs, swapMs }) + '\n')
await app.close()
