import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import pluginKit, { type PluginKitOptions } from 'fastify-pluginkit'
import { RedisStore } from 'fastify-pluginkit/redis'
import { basicAuthorize } from './admin-auth.ts'

const here = dirname(fileURLToPath(import.meta.url))

export interface ExampleAppOptions {
  /** Fastify's `logger` option. Default: false. */
  logger?: FastifyServerOptions['logger']
  /**
   * Where enabled/disabled states live. Default: a RedisStore when `redisUrl` is set (so
   * several instances share one switch), else `example-app/.pluginkit-state.json`.
   */
  store?: PluginKitOptions['store']
  /** Default: the REDIS_URL environment variable. */
  redisUrl?: string | undefined
  /**
   * The admin password (HTTP Basic, user `admin`). Default: the PLUGINKIT_ADMIN_TOKEN
   * environment variable. Unset: no admin. Set but empty: refused.
   */
  adminToken?: string | undefined
  /**
   * Package-name patterns the admin may install at run time (SPEC 11), into
   * `example-app/.pluginkit`. Default: the comma-separated PLUGINKIT_INSTALL_ALLOW
   * environment variable, else `fastify-pluginkit-*`. Empty: no run-time install.
   */
  installAllow?: string[]
  /** Reload an edited plugin without a restart (`npm run dev`). Default: PLUGINKIT_WATCH=1. Needs restartable (server.ts). */
  watch?: boolean
}

/** The patterns of PLUGINKIT_INSTALL_ALLOW (comma-separated), or the demo's default. */
export function installAllowFromEnv (value = process.env.PLUGINKIT_INSTALL_ALLOW): string[] {
  if (value === undefined) return ['fastify-pluginkit-*']
  return value.split(',').map((pattern) => pattern.trim()).filter((pattern) => pattern !== '')
}

/** The demo host: a hello-world app whose plugins come from `plugins/` and from npm. Not listening yet. */
export async function buildExampleApp (options: ExampleAppOptions = {},
  fastify: typeof Fastify = Fastify): Promise<FastifyInstance> {
  // `fastify` is the factory @fastify/restartable passes (server.ts): install swaps the whole app.
  const app = fastify({ logger: options.logger ?? false })
  const installAllow = options.installAllow ?? installAllowFromEnv()
  const redisUrl = 'redisUrl' in options ? options.redisUrl : process.env.REDIS_URL
  const adminToken = 'adminToken' in options ? options.adminToken : process.env.PLUGINKIT_ADMIN_TOKEN
  if (adminToken === '') throw new Error('PLUGINKIT_ADMIN_TOKEN is set but empty: refusing to start the admin without a password')

  app.get('/', async () => 'hello world')

  await app.register(pluginKit, {
    pluginsBase: here,
    pluginsFolder: 'plugins',
    pluginPackages: ['fastify-pluginkit-demo'],
    view: { templates: 'templates' },
    config: { siteName: 'fastify-pluginkit demo', whoami: 'example-app' },
    store: options.store ?? (redisUrl ? new RedisStore({ url: redisUrl }) : { file: join(here, '.pluginkit-state.json') }),
    ...(adminToken === undefined ? {} : { admin: { prefix: '/pluginkit', authorize: basicAuthorize(adminToken) } }),
    ...(installAllow.length === 0 ? {} : { install: { allow: installAllow, dir: '.pluginkit' } }),
    watch: options.watch ?? process.env.PLUGINKIT_WATCH === '1'
  })
  if (adminToken === undefined) app.log.info('admin disabled: set PLUGINKIT_ADMIN_TOKEN to mount it at /pluginkit')

  // A host page whose layout has slots that plugins fill (see templates/layout.html).
  app.get('/demo', (request, reply) => reply.view('demo.html', { title: 'Slots demo' }))

  return app
}
