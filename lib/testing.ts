import { resolve } from 'node:path'
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import pluginKit from './index.js'
import type { PluginKitOptions } from './types.js'

/** Options of {@link buildHost}: the plugins to host, plus any kit option except where plugins come from. */
export interface BuildHostOptions extends Omit<PluginKitOptions, 'pluginsFolder' | 'pluginDirs' | 'pluginPackages'> {
  /** Plugin folders (each one plugin, e.g. `./plugins/hello`), relative to `process.cwd()` or absolute. */
  plugins?: string[]
  /** npm packages that are plugins, resolved from `pluginsBase` (default `process.cwd()`). */
  packages?: string[]
  /** Fastify server options. Default `{ logger: false }`. */
  fastify?: FastifyServerOptions
  /** Called with the app after the kit is registered and before `ready()`: add host routes here. */
  setup?: (app: FastifyInstance) => void | Promise<void>
}

const REPLACED = { pluginsFolder: 'plugins', pluginDirs: 'plugins', pluginPackages: 'packages' }

/**
 * A ready Fastify app hosting just the given plugins, for `app.inject` in a plugin's own tests.
 *
 * The folders become the kit's `pluginDirs` (so each is checked like any plugin folder: a
 * missing one is `PLUGINKIT_ERR_PLUGINS_FOLDER`, one without an entry module
 * `PLUGINKIT_ERR_PLUGIN_IMPORT`), with no plugins folder. The state store defaults to
 * `'memory'` (nothing is written) and `strict` to `true`, so a broken plugin rejects with its
 * `PluginKitError`.
 */
export async function buildHost (options: BuildHostOptions = {}): Promise<FastifyInstance> {
  const { plugins = [], packages = [], fastify, setup, ...kitOptions } = options
  if (!Array.isArray(plugins) || plugins.some((plugin) => typeof plugin !== 'string' || plugin === '')) {
    throw new TypeError('buildHost: plugins must be an array of plugin folders')
  }
  for (const [key, instead] of Object.entries(REPLACED)) {
    if (key in kitOptions) throw new TypeError(`buildHost: use ${instead} instead of ${key}`)
  }

  const app = Fastify({ logger: false, ...fastify })
  try {
    await app.register(pluginKit, {
      store: 'memory',
      ...kitOptions,
      pluginsFolder: false,
      // Relative to process.cwd(), where a test runs, rather than to pluginsBase.
      pluginDirs: plugins.map((plugin) => resolve(plugin)),
      pluginPackages: packages
    })
    if (setup !== undefined) await setup(app)
    await app.ready()
    return app
  } catch (error) {
    await app.close().catch(() => {})
    throw error
  }
}
