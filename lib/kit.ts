/**
 * The kit's implementation, loaded by the plugin function of `index.ts` on first registration
 * (plugins import `definePlugin` from the entry, whose static graph must stay small).
 */
import type { FastifyInstance, FastifyPluginAsync } from 'fastify'
import { createApi } from './api.js'
import { bootPlugins } from './boot.js'
import { createDcp } from './dcp.js'
import { wrapError } from './errors.js'
import { installPoints } from './points/index.js'
import { setupObservability } from './observability.js'
import { KitState } from './state.js'
import { resolveOptions } from './options.js'
import { exposeOffered, ServiceRegistry } from './services.js'
import { createQuarantine } from './quarantine.js'
import { mountStatic } from './static.js'
import { MemoryStore } from './stores/memory.js'
import { registerViews } from './register-views.js'
import { Views } from './views.js'
import { disabledInstaller } from './install/disabled.js'
import { setupReload } from './reload/setup.js'
import { swapIdentity } from './restartable.js'
import type { DcpCallback, DcpPosition, PluginKit, PluginKitOptions } from './types.js'
import type { SavedState } from './boot.js'
import { kitVersion } from './version.js'
import { preloadCompiler, requireIsHooked } from './typebox-runtime.js'

const memoryStores = new WeakMap<object, MemoryStore>()

function memoryAcrossSwaps (app: FastifyInstance): MemoryStore | undefined {
  const identity = swapIdentity(app)
  if (identity === undefined) return undefined
  const store = memoryStores.get(identity) ?? new MemoryStore()
  memoryStores.set(identity, store)
  return store
}

// A hanging plugin must hit our loadTimeout (a PluginKitError naming it) before
// Fastify's pluginTimeout fails the whole kit anonymously. Fastify counts from the kit's
// start, so what the kit spent before importing (the store, the checkers' compiler, an
// install sync) is taken off; at least a tenth of pluginTimeout is left.
function defaultLoadTimeout (app: FastifyInstance, spentMs = 0): number {
  const pluginTimeout = app.initialConfig.pluginTimeout ?? 10000
  if (pluginTimeout <= 0) return 10000
  return Math.max(1, Math.floor(pluginTimeout / 10), Math.min(10000, Math.floor(pluginTimeout * 0.8 - spentMs)))
}

async function loadSavedState (options: ReturnType<typeof resolveOptions>): Promise<SavedState> {
  try {
    const states = await options.store.load()
    return { states, details: await options.store.loadDetails?.() ?? {} }
  } catch (error) {
    throw wrapError(error, 'PLUGINKIT_ERR_STATE_STORE', { store: 'state store' }, 'load', 'cannot be read: ')
  }
}

/**
 * The pipeline: options → discover → import + manifest → order → register → mount
 * (hooks, error handlers, routes, views, static files, admin) → per-request dispatch
 * over tables that enable/disable rebuild.
 */
export const plugin: FastifyPluginAsync<PluginKitOptions> = async function fastifyPluginKit (app, rawOptions) {
  await bootKit(app, rawOptions, performance.now())
}

/** The kit's boot; `startedAt`: when Fastify started the plugin (its pluginTimeout counts from there). */
export async function bootKit (app: FastifyInstance, rawOptions: PluginKitOptions, startedAt: number): Promise<void> {
  // Under a TypeScript loader the checkers' compiler is imported up front, before the options'
  // check (typebox-runtime.ts): a first invalid value would otherwise cost seconds.
  if (requireIsHooked()) await preloadCompiler()
  const options = resolveOptions(rawOptions)
  // `store: 'memory'` under restartable: one store for all the apps it swaps in, so states survive a swap.
  if (rawOptions?.store === 'memory') options.store = memoryAcrossSwaps(app) ?? options.store
  const state = new KitState(options.store, app.log)
  const views = new Views(state, options)
  const dcp = createDcp(state)
  const services = new ServiceRegistry(state)

  // The store is closed once: on app close, or right away if boot fails (a Redis
  // connection left open would keep the process alive).
  let unsubscribe: (() => void) | undefined = () => {}
  let closing: Promise<void> | undefined
  const closeStore = () => {
    unsubscribe?.()
    closing ??= Promise.resolve(options.store.close?.())
    return closing
  }
  app.addHook('onClose', closeStore)

  try {
    let installer = disabledInstaller()
    const api = createApi(state, {
      emitTep: (slot, context) => views.emitTep(slot, context),
      emitAssets: (name, file, assetOptions) => views.emitAssets(name, file, assetOptions),
      emitConfig: (key) => views.emitConfig(key),
      ...dcp
    }, () => installer, services.api(), setupReload(app, options))
    exposeOffered(api, services)
    app.decorate('pluginKit', api)

    // Hosts that check values while they run (admin forms, installs, edited plugins) load the checkers' compiler now.
    if (options.admin !== undefined || options.install !== undefined || options.watch !== undefined) await preloadCompiler()
    const saved = await loadSavedState(options)
    // Each plugin gets the API with its own name on what it pushes, so failures count against it.
    const kitFor = (name: string): PluginKit => Object.create(api, {
      pushDcp: { value: (event: string, callback: DcpCallback, position?: DcpPosition) => dcp.pushDcp(event, callback, position, name) }
    }) as PluginKit
    // npm's fetchers are loaded only by hosts that install at run time.
    const install = options.install === undefined
      ? { installed: [], api: installer }
      : await (await import('./install/setup.js')).setupInstall(app, rawOptions, options, state, plugin)
    installer = install.api
    const importTimeout = options.loadTimeout ?? defaultLoadTimeout(app, performance.now() - startedAt)
    const installed = install.installed
    await bootPlugins({ app, options, state, kitFor, services, kitVersion, loadTimeout: importTimeout, saved, installed })
    state.changed()
    // Metrics and tracing wrap the plugins' handlers before the points install them (SPEC 13).
    const { observe } = await setupObservability(app, state, options, kitVersion)

    installPoints({
      app,
      state,
      // Blueprints load later, each under a Fastify timer of its own: the whole default.
      loadTimeout: options.loadTimeout ?? defaultLoadTimeout(app),
      observe,
      quarantine: options.quarantine === undefined ? undefined : createQuarantine(state, options.quarantine),
      // The plugins the points see are the state's own records.
      dropped: (plugin, error) => {
        const record = state.byName.get(plugin.name)
        if (record !== undefined) state.drop(record, error, options.strict)
        state.changed()
      }
    })

    const environment = options.view === undefined
      ? await views.ownEnvironment()
      : await registerViews(app, views, options.view, state.records)
    views.adopt(environment, dcp.emitDcp)
    mountStatic(app, state, options.staticUrlPath)
    // The admin (helmet, multipart, its pages: about 60 files) is loaded by the hosts that mount it.
    if (options.admin !== undefined) (await import('./admin.js')).mountAdmin(app, state, options.admin, options)
  } catch (error) {
    await closeStore()
    throw error
  }

  unsubscribe = options.store.subscribe?.(
    (name, pluginState, detail) => state.applyRemote(name, pluginState, detail),
    // The states this instance runs with that differ from the manifests': a store that lost its data writes them back.
    () => Object.fromEntries(state.records.filter((record) => record.enabled !== (record.manifest.initialState === 'enabled'))
      .map((record) => [record.name, record.enabled ? 'enabled' : 'disabled']))
  )
}
