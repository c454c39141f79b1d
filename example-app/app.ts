import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import pluginKit, { type PluginKitOptions } from 'fastify-pluginkit'

const here = dirname(fileURLToPath(import.meta.url))

export interface ExampleAppOptions {
  /** Fastify's `logger` option. Default: false. */
  logger?: FastifyServerOptions['logger']
  /** Where enabled/disabled states live. Default: `example-app/.pluginkit-state.json`. */
  store?: PluginKitOptions['store']
}

/** The demo host: a hello-world app whose plugins come from `plugins/` and from npm. Not listening yet. */
export async function buildExampleApp (options: ExampleAppOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({ logger: options.logger ?? false })

  app.get('/', async () => 'hello world')

  await app.register(pluginKit, {
    pluginsBase: here,
    pluginsFolder: 'plugins',
    pluginPackages: ['fastify-pluginkit-demo'],
    view: { templates: 'templates' },
    config: { siteName: 'fastify-pluginkit demo', whoami: 'example-app' },
    store: options.store ?? { file: join(here, '.pluginkit-state.json') }
  })

  // A host page whose layout has slots that plugins fill (see templates/layout.html).
  app.get('/demo', (request, reply) => reply.view('demo.html', { title: 'Slots demo' }))

  return app
}
