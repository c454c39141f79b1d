import { mkdtemp, rm, stat, symlink } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { basename, join, resolve } from 'node:path'
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import { entryOf } from './discovery.js'
import { kitError } from './errors.js'
import pluginKit from './index.js'
import type { PluginKitOptions } from './types.js'

/** Options of {@link buildHost}: the plugins to host, plus any kit option except where plugins come from. */
export interface BuildHostOptions extends Omit<PluginKitOptions, 'pluginsFolder' | 'pluginPackages'> {
  /** Plugin folders (each one plugin, e.g. `./plugins/hello`), relative to `process.cwd()` or absolute. */
  plugins?: string[]
  /** npm packages that are plugins, resolved from `pluginsBase` (default `process.cwd()`). */
  packages?: string[]
  /** Fastify server options. Default `{ logger: false }`. */
  fastify?: FastifyServerOptions
  /** Called with the app after the kit is registered and before `ready()`: add host routes here. */
  setup?: (app: FastifyInstance) => void | Promise<void>
}

async function checkPluginFolder (target: string, index: number): Promise<void> {
  const subject = `buildHost plugins[${index}]`
  let isDirectory = false
  try {
    isDirectory = (await stat(target)).isDirectory()
  } catch {}
  if (!isDirectory) throw kitError('PLUGINKIT_ERR_PLUGINS_FOLDER', subject, undefined, `${target} does not exist or is not a directory`)
  let entry: string | undefined
  try {
    entry = entryOf(target)
  } catch {
    return // an unusable package.json: the kit reports it with its own code
  }
  if (entry === undefined) {
    throw kitError('PLUGINKIT_ERR_PLUGIN_IMPORT', subject, 'entry', `${target} has no entry module (package.json exports or main, or index.js|mjs|cjs|ts|mts|cts)`)
  }
}

/**
 * A ready Fastify app hosting just the given plugins, for `app.inject` in a plugin's own tests.
 *
 * The kit discovers local plugins in one folder, so the given folders are linked into a fresh
 * temporary folder (one symlink per plugin, named after its folder) that serves as
 * `pluginsFolder`; it is removed when the app closes. The plugins themselves are imported from
 * their real location. The state store defaults to `'memory'` (nothing is written) and
 * `strict` to `true`, so a broken plugin rejects with its `PluginKitError`.
 */
export async function buildHost (options: BuildHostOptions = {}): Promise<FastifyInstance> {
  const { plugins = [], packages = [], fastify, setup, ...kitOptions } = options
  if (!Array.isArray(plugins) || plugins.some((plugin) => typeof plugin !== 'string' || plugin === '')) {
    throw new TypeError('buildHost: plugins must be an array of plugin folders')
  }
  for (const key of ['pluginsFolder', 'pluginPackages']) {
    if (key in kitOptions) throw new TypeError(`buildHost: use ${key === 'pluginsFolder' ? 'plugins' : 'packages'} instead of ${key}`)
  }

  const folder = await mkdtemp(join(tmpdir(), 'pluginkit-host-'))
  const removeFolder = () => rm(folder, { recursive: true, force: true })
  const app = Fastify({ logger: false, ...fastify })
  try {
    const used = new Set<string>()
    for (const [index, plugin] of plugins.entries()) {
      const target = resolve(plugin)
      await checkPluginFolder(target, index)
      // Names starting with '.' or '_' would be ignored by discovery.
      const stem = basename(target).replace(/^[._]+/, '') || 'plugin'
      let name = stem
      for (let suffix = 2; used.has(name); suffix++) name = `${stem}-${suffix}`
      used.add(name)
      await symlink(target, join(folder, name), 'junction')
    }
    app.addHook('onClose', removeFolder)
    await app.register(pluginKit, {
      store: 'memory',
      ...kitOptions,
      pluginsFolder: folder,
      pluginPackages: packages
    })
    if (setup !== undefined) await setup(app)
    await app.ready()
    return app
  } catch (error) {
    await app.close().catch(() => {})
    await removeFolder()
    throw error
  }
}
