import fp from 'fastify-plugin'
import type { FastifyInstance, FastifyPluginCallback, FastifyPluginAsync, FastifyRequest, FastifyReply, HookHandlerDoneFunction, RouteHandlerMethod, RouteOptions } from 'fastify'
import { kitError, describe, type PluginKitError } from './errors.js'
import type { Blueprint } from './extension-points.js'
import type { PluginRecord } from './record.js'

const kPluginMeta = Symbol.for('plugin-meta')
const kDisplayName = Symbol.for('fastify.display-name')

type AnyPlugin = FastifyPluginCallback | FastifyPluginAsync
type Mount = (instance: FastifyInstance) => void

export interface RouteMountOptions {
  /** Called for errors raised by a plugin's routes (for quarantine); undefined: not counted. */
  onRouteError: ((record: PluginRecord, error: unknown, request: FastifyRequest) => void) | undefined
  /**
   * A blueprint or route of this plugin could not be mounted. Throws to fail boot (strict),
   * or drops the plugin, whose gated routes then stay off.
   */
  onMountError: (record: PluginRecord, error: PluginKitError) => void
}

/**
 * The gate that makes live enable/disable possible although Fastify routes are fixed
 * after ready: the first onRequest hook of each plugin context answers exactly like an
 * unknown URL (the app's not-found handling) while the plugin is disabled. Gates of the
 * plugins a context is nested in (`outer`) run first and count the request too; the
 * innermost gate takes those counts back, so only the route's owner counts it.
 */
function gateOf (record: PluginRecord, outer: PluginRecord[]) {
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
const thrownBy = new WeakMap<FastifyRequest, PluginRecord>()

/**
 * Wraps a route handler so that what it throws or rejects with is known to be the plugin's
 * (quarantine must not blame it for the host's hooks, parsers or serializers). Nested
 * contexts wrap again; the outermost wrapper is the innermost context's, so the route's
 * own plugin is the last to claim the error.
 */
function ownedBy (record: PluginRecord, handler: RouteHandlerMethod): RouteHandlerMethod {
  return function pluginKitOwnedHandler (this: FastifyInstance, request, reply) {
    const claim = (error: unknown) => {
      thrownBy.set(request, record)
      throw error
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

function routeKeys (route: RouteOptions): string[] {
  const methods = Array.isArray(route.method) ? route.method : [route.method]
  // Routes that differ only by constraints (version, host) may share a URL.
  const constraints = route.constraints === undefined ? '' : ` ${JSON.stringify(route.constraints)}`
  return methods.map((method) => `${String(method).toUpperCase()} ${route.url}${constraints}`)
}

function hasPluginMeta (blueprint: AnyPlugin): boolean {
  return (blueprint as unknown as Record<symbol, unknown>)[kPluginMeta] !== undefined
}

/** Runs a plugin function, callback style or async, in `instance`; a synchronous throw rejects. */
function callPlugin (blueprint: AnyPlugin, instance: FastifyInstance, options: Record<string, unknown>): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (blueprint.length >= 3) {
      (blueprint as FastifyPluginCallback).call(instance, instance, options, (error?: Error) => (error ? reject(error) : resolve()))
    } else {
      Promise.resolve((blueprint as FastifyPluginAsync).call(instance, instance, options)).then(() => resolve(), reject)
    }
  })
}

/**
 * A fastify-plugin blueprint registered so that it shares our gated, prefixed context: wrapped with
 * fastify-plugin (keeping its own metadata, so Fastify still checks its `fastify` range and
 * dependencies), and so that a synchronous throw rejects `ready()` instead of escaping.
 */
function merged (blueprint: AnyPlugin): AnyPlugin {
  const meta = (blueprint as unknown as Record<symbol, Record<string, unknown> | undefined>)[kPluginMeta]
  const wrapper = blueprint.length >= 3
    ? function (this: unknown, instance: FastifyInstance, options: Record<string, unknown>, done: (error?: Error) => void) {
      try {
        return (blueprint as FastifyPluginCallback).call(this as FastifyInstance, instance, options, done)
      } catch (error) {
        done(error as Error)
      }
    }
    : async function (this: unknown, instance: FastifyInstance, options: Record<string, unknown>) {
      return (blueprint as FastifyPluginAsync).call(this as FastifyInstance, instance, options)
    }
  Object.defineProperty(wrapper, 'name', { value: blueprint.name || 'blueprint' })
  return fp(wrapper as FastifyPluginCallback, { ...(meta ?? {}), encapsulate: false }) as AnyPlugin
}

/** Checks `bep.parent` and `vep.blueprint` point at a plugin with a blueprint, without cycles. */
export function blueprintReferenceError (record: PluginRecord, byName: Map<string, PluginRecord>) {
  const targetOf = (name: string) => byName.get(name)?.contributions.bep[0]
  for (const [index, entry] of record.contributions.bep.entries()) {
    if (entry.parent === undefined) continue
    const field = record.contributions.bep.length > 1 ? `bep[${index}].parent` : 'bep.parent'
    if (targetOf(entry.parent) === undefined) {
      return kitError('PLUGINKIT_ERR_EXTENSION_POINT', `plugin "${record.name}"`, field, `plugin "${entry.parent}" is not loaded or has no blueprint`)
    }
    const chain = [record.name]
    for (let parent: string | undefined = entry.parent; parent !== undefined; parent = targetOf(parent)?.parent) {
      if (chain.includes(parent)) {
        return kitError('PLUGINKIT_ERR_EXTENSION_POINT', `plugin "${record.name}"`, field, `blueprint nesting cycle: ${[...chain, parent].join(' -> ')}`)
      }
      chain.push(parent)
    }
  }
  for (const [index, route] of record.contributions.vep.entries()) {
    if (route.blueprint !== undefined && targetOf(route.blueprint) === undefined) {
      const field = record.contributions.vep.length > 1 ? `vep[${index}].blueprint` : 'vep.blueprint'
      return kitError('PLUGINKIT_ERR_EXTENSION_POINT', `plugin "${record.name}"`, field, `plugin "${route.blueprint}" is not loaded or has no blueprint`)
    }
  }
  return undefined
}

/**
 * Registers every plugin's blueprints (`bep`), routes (`vep`) and class views (`cvep`),
 * each in its own encapsulated context whose first hook is the plugin's gate.
 */
export function mountRoutes (app: FastifyInstance, records: PluginRecord[], options: RouteMountOptions): void {
  // What must be registered inside a plugin's first blueprint context once it exists.
  const inside = new Map<string, Mount[]>()
  const later = (owner: string, mount: Mount) => inside.set(owner, [...(inside.get(owner) ?? []), mount])

  // The plugins whose first blueprint context encloses `name`'s first blueprint, outermost first.
  const enclosing = (name: string | undefined): PluginRecord[] => {
    const owner = name === undefined ? undefined : records.find((record) => record.name === name)
    if (owner === undefined) return []
    return [...enclosing(owner.contributions.bep[0]?.parent), owner]
  }

  // Which plugin declared each route (innermost context last, so the route's own plugin wins).
  const claimed = new Map<string, PluginRecord>()
  // Runs for every route added after the kit, the host's included, before Fastify's router
  // refuses a duplicate with an error that names no plugin.
  app.addHook('onRoute', (route) => {
    for (const key of routeKeys(route)) {
      const owner = claimed.get(key)
      if (owner !== undefined) {
        throw kitError('PLUGINKIT_ERR_EXTENSION_POINT', `plugin "${owner.name}"`, 'route', `${key} is declared by this plugin and again by the host ` +
          'or another plugin; change one of the URLs (Fastify cannot remove a route, so the plugin cannot be skipped)')
      }
    }
  })

  const gated = (record: PluginRecord, outer: PluginRecord[], body: (instance: FastifyInstance) => void | Promise<void>) => {
    const context = async function pluginContext (instance: FastifyInstance) {
      instance.addHook('onRoute', (route) => { for (const key of routeKeys(route)) claimed.set(key, record) })
      instance.addHook('onRequest', gateOf(record, outer))
      const { onRouteError } = options
      if (onRouteError !== undefined) {
        instance.addHook('onRoute', (route) => { route.handler = ownedBy(record, route.handler) })
        instance.addHook('onError', (request, _reply, error, done) => {
          if (thrownBy.get(request) === record) onRouteError(record, error, request)
          done()
        })
      }
      await body(instance)
    }
    // Names the context in Fastify's plugin tree, and spares Fastify a scan of require.cache per context.
    return Object.assign(context, { [kDisplayName]: `fastify-pluginkit:${record.name}` })
  }

  const blueprintContext = (record: PluginRecord, entry: Blueprint, first: boolean) => gated(record, enclosing(entry.parent), async (instance) => {
    if (hasPluginMeta(entry.blueprint)) {
      instance.register(merged(entry.blueprint), entry.options)
    } else {
      // A plain blueprint runs right in our context: one Fastify context per blueprint, not two.
      try {
        await callPlugin(entry.blueprint, instance, entry.options)
      } catch (error) {
        options.onMountError(record, kitError('PLUGINKIT_ERR_REGISTER', `plugin "${record.name}"`, 'bep', `blueprint failed to load: ${describe(error)}`, error))
      }
    }
    // Errors of what the blueprint registered itself (and of a fastify-plugin blueprint) are
    // avvio's: the context is half loaded and Fastify cannot start without it.
    instance.after(async (error) => {
      if (error === null || error === undefined) return
      if ((error as { code?: unknown }).code?.toString().startsWith('PLUGINKIT_ERR_') === true) throw error
      throw kitError('PLUGINKIT_ERR_REGISTER', `plugin "${record.name}"`, 'bep', `blueprint failed to load: ${error.message}`, error)
    })
    if (first) for (const mount of inside.get(record.name) ?? []) mount(instance)
  })

  for (const record of records) {
    const { bep, vep, cvep } = record.contributions
    bep.forEach((entry, index) => {
      const mount: Mount = (instance) => { instance.register(blueprintContext(record, entry, index === 0), { prefix: entry.prefix }) }
      if (entry.parent === undefined) mount(app)
      else later(entry.parent, mount)
    })
    // Each route with the field that declared it, for errors.
    const routes = (list: Array<[string, RouteOptions]>, outer: PluginRecord[] = []) => gated(record, outer, (instance) => {
      for (const [field, route] of list) {
        try {
          instance.route(route)
        } catch (error) {
          options.onMountError(record, kitError('PLUGINKIT_ERR_EXTENSION_POINT', `plugin "${record.name}"`, field, `route ${String(route.method)} ${String(route.url)} cannot be added: ${describe(error)}`, error))
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
