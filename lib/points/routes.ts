import { errorCodes } from 'fastify'
import type {
  FastifyInstance, FastifyRequest, FastifyReply, HookHandlerDoneFunction, RouteHandlerMethod, RouteOptions
} from 'fastify'
import { asError, describe, kitError, type PluginKitError } from '../errors.js'
import type { InstalledPlugin } from './point.js'
import type { ViewRoute } from './vep.js'
import { kDisplayName, kSkipOverride, timed, type Blueprint, type Mount } from './blueprint-loading.js'

/** A plugin as its routes see it (the kit's PluginRecord is one). */
export type RoutePlugin = InstalledPlugin<{ bep: Blueprint[], vep: ViewRoute[], cvep: Array<{ prefix: string, routes: RouteOptions[] }> }>

export interface RouteMountOptions {
  /** Called for errors raised by a plugin's routes (for quarantine); undefined: not counted. */
  onRouteError: ((record: RoutePlugin, error: unknown, request: FastifyRequest) => void) | undefined
  /**
   * A blueprint or route of this plugin could not be mounted. Throws to fail boot (strict),
   * or drops the plugin, whose gated routes then stay off.
   */
  onMountError: (record: RoutePlugin, error: PluginKitError) => void
  /** Milliseconds a blueprint may take to load. */
  loadTimeout: number
  /** Called for each plugin context once its gate is added (tracing adds its hook after it); undefined: nothing. */
  onContext?: ((instance: FastifyInstance, record: RoutePlugin) => void) | undefined
}

/**
 * The gate that makes live enable/disable possible although Fastify routes are fixed
 * after ready: the first onRequest hook of each plugin context answers exactly like an
 * unknown URL (the app's not-found handling) while the plugin is disabled. Gates of the
 * plugins a context is nested in (`outer`) run first and count the request too; the
 * innermost gate takes those counts back, so only the route's owner counts it.
 */
function gateOf (record: RoutePlugin, outer: RoutePlugin[]) {
  return function pluginKitGate (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) {
    for (const parent of outer) parent.stats.requests--
    if (record.enabled) {
      record.stats.requests++
      done()
    } else {
      reply.callNotFound()
    }
  }
}

/** The plugin whose route handler threw, per request: only those errors are the plugin's own. */
const thrownBy = new WeakMap<FastifyRequest, RoutePlugin>()

/**
 * Wraps a route handler so that what it throws or rejects with is known to be the plugin's
 * (quarantine must not blame it for the host's hooks, parsers or serializers). Nested
 * contexts wrap again; the outermost wrapper is the innermost context's, so the route's
 * own plugin is the last to claim the error.
 */
function ownedBy (record: RoutePlugin, handler: RouteHandlerMethod): RouteHandlerMethod {
  return function pluginKitOwnedHandler (this: FastifyInstance, request, reply) {
    const claim = (error: unknown) => {
      thrownBy.set(request, record)
      // As for hooks: an Error whose properties throw would make Fastify answer 200 (errors.ts).
      throw asError(error)
    }
    let result: unknown
    try {
      result = handler.call(this, request, reply)
    } catch (error) {
      return claim(error)
    }
    return result instanceof Promise ? result.catch(claim) : result
  } as RouteHandlerMethod
}

const HOST_WINS = 'pluginkitHostRoute'

type ConstraintStrategy = Parameters<FastifyInstance['addConstraintStrategy']>[0]
type Handler = Parameters<ReturnType<ConstraintStrategy['storage']>['set']>[1]

/** Handlers by constraint value, as find-my-way asks a strategy to keep them. */
const handlerStore: ConstraintStrategy['storage'] = () => {
  const handlers = new Map<unknown, Handler>()
  return { get: (value) => handlers.get(value) ?? null, set: (value, handler) => { handlers.set(value, handler) } }
}

function routeKeys (route: RouteOptions): string[] {
  const methods = Array.isArray(route.method) ? route.method : [route.method]
  // Routes that differ only by constraints (version, host) may share a URL.
  const constraints = route.constraints === undefined ? '' : ` ${JSON.stringify(route.constraints)}`
  return methods.map((method) => `${String(method).toUpperCase()} ${route.url}${constraints}`)
}

/**
 * Registers every plugin's blueprints (`bep`), routes (`vep`) and class views (`cvep`),
 * each in its own encapsulated context whose first hook is the plugin's gate.
 */
export function mountRoutes (app: FastifyInstance, records: readonly RoutePlugin[], options: RouteMountOptions): void {
  // What must be registered inside a plugin's first blueprint context once it exists.
  const inside = new Map<string, Mount[]>()
  const later = (owner: string, mount: Mount) => inside.set(owner, [...(inside.get(owner) ?? []), mount])

  // The plugins whose first blueprint context encloses `name`'s first blueprint, outermost first.
  const enclosing = (name: string | undefined): RoutePlugin[] => {
    const owner = name === undefined ? undefined : records.find((record) => record.name === name)
    if (owner === undefined) return []
    return [...enclosing(owner.contributions.bep[0]?.parent), owner]
  }

  // Which plugin declared each route (innermost context last, so the route's own plugin wins).
  const claimed = new Map<string, RoutePlugin>()
  // Plugin contexts (and what they register themselves: their descendants) declare plugin routes.
  const pluginContexts = new WeakSet<object>()
  const inPlugin = (instance: object) => {
    for (let context: object | null = instance; context !== null; context = Object.getPrototypeOf(context)) {
      if (pluginContexts.has(context)) return true
    }
    return false
  }
  // A route constrained with this strategy is chosen over an unconstrained one on the same URL:
  // how the host's route can win over a plugin's, which Fastify cannot remove. find-my-way
  // derives a strategy only once some route uses it, so it costs nothing until then.
  app.addConstraintStrategy({
    name: HOST_WINS,
    storage: handlerStore,
    deriveConstraint: () => 'yes',
    mustMatchWhenDerived: false
  })
  // Runs for every route added after the kit, the host's included, before Fastify's router
  // refuses a duplicate with an error that names no plugin. A plugin's duplicate fails that
  // plugin; the host's fails boot naming the plugin (strict), or drops the plugin and wins.
  app.addHook('onRoute', function (this: FastifyInstance, route) {
    for (const key of routeKeys(route)) {
      const owner = claimed.get(key)
      if (owner === undefined) continue
      const byPlugin = inPlugin(this)
      const error = kitError('PLUGINKIT_ERR_EXTENSION_POINT', { plugin: owner.name }, 'route',
        `${key} is declared by this plugin and again by ${byPlugin ? 'another plugin' : 'the host'}; change one of the URLs`)
      if (byPlugin) throw error
      options.onMountError(owner, error)
      claimed.delete(key)
      route.constraints = { ...route.constraints, [HOST_WINS]: 'yes' }
    }
  })

  /** Makes `instance` the plugin's context: its gate first, then route claims and, for quarantine, route ownership. */
  const prepare = (instance: FastifyInstance, record: RoutePlugin, outer: RoutePlugin[]) => {
    pluginContexts.add(instance)
    instance.addHook('onRoute', (route) => { for (const key of routeKeys(route)) claimed.set(key, record) })
    instance.addHook('onRequest', gateOf(record, outer))
    options.onContext?.(instance, record)
    const { onRouteError } = options
    if (onRouteError !== undefined) {
      instance.addHook('onRoute', (route) => { route.handler = ownedBy(record, route.handler) })
      instance.addHook('onError', (request, _reply, error, done) => {
        if (thrownBy.get(request) === record) onRouteError(record, error, request)
        done()
      })
    }
  }

  const gated = (record: RoutePlugin, outer: RoutePlugin[], body: (instance: FastifyInstance) => void) => {
    const context = async function pluginContext (instance: FastifyInstance) {
      prepare(instance, record, outer)
      body(instance)
    }
    // Names the context in Fastify's plugin tree, and spares Fastify a scan of require.cache per context.
    return Object.assign(context, { [kDisplayName]: `fastify-pluginkit:${record.name}` })
  }

  // A plain blueprint's own context is the plugin's: prepared when Fastify creates it, before
  // the blueprint runs (one context per blueprint, not a wrapper context around it).
  const contexts = new WeakMap<object, (instance: FastifyInstance) => void>()
  app.addHook('onRegister', (instance, registerOptions) => contexts.get(registerOptions)?.(instance))

  // Plugins nested in this one's first blueprint are registered inside that blueprint's own
  // context, once it has loaded, so they see its decorators and hooks.
  const mountBlueprint = (record: RoutePlugin, entry: Blueprint, first: boolean): Mount => (parent) => {
    const outer = enclosing(entry.parent)
    const loading = timed(record, entry.blueprint, {
      ms: options.loadTimeout,
      // Read when the blueprint has loaded: every plugin has said by then what nests in it.
      loaded: (own) => { for (const mount of first ? inside.get(record.name) ?? [] : []) mount(own) },
      failed: (error) => options.onMountError(record, error)
    })
    // Fastify refuses an async function that also takes `done` (checkPluginHealthiness in
    // fastify/lib/plugin-utils.js). Checked here, with Fastify's own error, because a refusal
    // at register time would reach ready() without the plugin's name, and it never ran, so
    // `strict: false` can skip it.
    if (entry.blueprint.constructor.name === 'AsyncFunction' && entry.blueprint.length >= 3) {
      const refusal = new errorCodes.FST_ERR_PLUGIN_INVALID_ASYNC_HANDLER(entry.blueprint.name || 'blueprint')
      const detail = `blueprint failed to load: ${refusal.message}`
      options.onMountError(record, kitError('PLUGINKIT_ERR_REGISTER', { plugin: record.name }, 'bep', detail, refusal))
      return
    }
    if ((entry.blueprint as unknown as Record<symbol, unknown>)[kSkipOverride] === true) {
      // A fastify-plugin blueprint creates no context: it runs inside a gated one of ours.
      parent.register(gated(record, outer, (instance) => {
        instance.register(loading, entry.options)
      }), { prefix: entry.prefix })
    } else {
      const registerOptions = { ...entry.options, prefix: entry.prefix }
      contexts.set(registerOptions, (instance) => prepare(instance, record, outer))
      parent.register(loading, registerOptions)
    }
  }

  // A copy: a plugin that fails to mount is dropped from `records` meanwhile.
  for (const record of [...records]) {
    const { bep, vep, cvep } = record.contributions
    bep.forEach((entry, index) => {
      const mount = mountBlueprint(record, entry, index === 0)
      if (entry.parent === undefined) mount(app)
      else later(entry.parent, mount)
    })
    // Each route with the field that declared it, for errors.
    const routes = (list: Array<[string, RouteOptions]>, outer: RoutePlugin[] = []) => gated(record, outer, (instance) => {
      for (const [field, route] of list) {
        try {
          instance.route(route)
        } catch (error) {
          const detail = `route ${String(route.method)} ${String(route.url)} cannot be added: ${describe(error)}`
          options.onMountError(record, kitError('PLUGINKIT_ERR_EXTENSION_POINT', { plugin: record.name }, field, detail, error))
          return
        }
      }
    })
    const vepField = (index: number) => (vep.length > 1 ? `vep[${index}]` : 'vep')
    const ownRoutes: Array<[string, RouteOptions]> = []
    vep.forEach((route, index) => {
      const { blueprint, ...routeOptions } = route
      if (blueprint === undefined) ownRoutes.push([vepField(index), route])
      else later(blueprint, (instance) => { instance.register(routes([[vepField(index), routeOptions]], enclosing(blueprint))) })
    })
    if (ownRoutes.length > 0) app.register(routes(ownRoutes))
    cvep.forEach((view, index) => {
      const field = `${cvep.length > 1 ? `cvep[${index}]` : 'cvep'}.controller`
      app.register(routes(view.routes.map((route): [string, RouteOptions] => [field, route])), { prefix: view.prefix })
    })
  }
}
