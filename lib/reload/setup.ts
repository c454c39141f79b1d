import type { FastifyInstance } from 'fastify'
import { invalidOption } from '../errors.js'
import type { ResolvedOptions } from '../options.js'
import { closingForGood, restartOf } from '../restartable.js'
import type { PluginKit } from '../types.js'
import { reloadStatus, watchPlugins } from './watch.js'

export type ReloadApi = Pick<PluginKit, 'reloads' | 'reloadError'>

interface Watching {
  stop: () => void
  restart: () => Promise<boolean>
  app: FastifyInstance
}

/** One watcher per watched folder set for the process: it outlives the swaps it causes. */
const watching = new Map<string, Watching>()

const HOW = 'requires @fastify/restartable, which swaps the app after an edit: const app = await restartable(' +
  'async (fastify, opts) => { const app = fastify(opts); await app.register(pluginKit, { watch: true }); return app }); ' +
  'await app.listen({ port: 3000 })'

/** `watch` (SPEC 12): watches the local plugins and reloads them into a new app after an edit. */
export function setupReload (app: FastifyInstance, options: ResolvedOptions): ReloadApi {
  const key = JSON.stringify([options.pluginsFolder, options.pluginDirs])
  const status = reloadStatus(key)
  const api: ReloadApi = {
    get reloads () { return status.reloads },
    get reloadError () { return status.error }
  }
  const watch = options.watch
  if (watch === undefined) return api
  const restart = restartOf(app)
  if (restart === undefined) throw invalidOption('watch', HOW)
  if (process.env.NODE_ENV === 'production') {
    app.log.warn('fastify-pluginkit: watch is on with NODE_ENV=production; it is a development feature (replaced modules stay in memory)')
  }
  // Only an app that booted is the newest one (the one whose close for good ends watching): a reload
  // that fails to boot must not take the watcher with it when it is closed, nor keep the serving
  // app from stopping the watcher when that one closes for good. A failed first boot starts none.
  app.addHook('onReady', async () => {
    let current = watching.get(key)
    if (current === undefined) {
      const entry: Watching = { stop: () => {}, restart, app }
      entry.stop = watchPlugins({
        pluginsFolder: options.pluginsFolder,
        pluginDirs: options.pluginDirs,
        debounceMs: watch.debounceMs,
        restart: () => entry.restart(),
        log: app.log,
        status
      })
      watching.set(key, entry)
      current = entry
    }
    current.restart = restart
    current.app = app
  })
  app.addHook('onClose', async () => {
    const mine = watching.get(key)
    if (mine !== undefined && mine.app === app && closingForGood(app)) {
      mine.stop()
      watching.delete(key)
    }
  })
  return api
}
