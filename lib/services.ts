import { kitError, type PluginKitError } from './errors.js'
import type { PluginRecord } from './record.js'
import type { KitState } from './state.js'
import type { PluginKit, PluginServices } from './types.js'

/** Keys read by `await`, JSON.stringify and the like: absent rather than an error, unless provided. */
const PROBED = new Set(['then', 'toJSON'])

/** A read-only view whose properties are looked up when read (`read` throws for what may not be read). */
function view (read: (service: string) => unknown, names: () => string[]): Readonly<PluginServices> {
  const readable = (key: string | symbol): key is string => typeof key === 'string' && names().includes(key)
  return new Proxy(Object.create(null) as Record<string, unknown>, {
    get: (_target, key) => typeof key === 'string' ? read(key) : undefined,
    has: (_target, key) => readable(key),
    ownKeys: () => names(),
    getOwnPropertyDescriptor: (_target, key) => readable(key)
      ? { value: read(key), enumerable: true, configurable: true, writable: false }
      : undefined,
    set: () => false,
    defineProperty: () => false,
    deleteProperty: () => false
  }) as Readonly<PluginServices>
}

/**
 * Which plugin provides which service (the `provide` extension point), for plugins'
 * `ctx.services` and the host's `app.pluginKit.services`. A provider's services are recorded
 * right after its `register` returned, so its dependents, which register after it, can read
 * them in theirs.
 */
export class ServiceRegistry {
  /** Service name → the plugin that provides it. */
  #providers = new Map<string, string>()

  constructor (readonly state: KitState) {
    // Plugins dropped after they registered (and p3 rewriting a `provide`) change who provides what.
    state.watch((records) => {
      this.#providers = new Map()
      for (const record of records) this.#record(record)
    })
  }

  #record (record: PluginRecord): void {
    for (const service of Object.keys(record.contributions.provide)) {
      if (!this.#providers.has(service)) this.#providers.set(service, record.name)
    }
  }

  /** Records a plugin that just registered; PLUGINKIT_ERR_SERVICE if another plugin provides one of its services. */
  add (record: PluginRecord): void {
    for (const service of Object.keys(record.contributions.provide)) {
      const other = this.#providers.get(service)
      if (other !== undefined && other !== record.name && this.state.byName.has(other)) {
        throw kitError('PLUGINKIT_ERR_SERVICE', { plugin: record.name }, `provide.${service}`,
          `service "${service}" is already provided by plugin "${other}" (a service name is unique across plugins)`)
      }
    }
    this.#record(record)
  }

  /** The provider of `service` that is loaded, if any. */
  #provider (service: string): PluginRecord | undefined {
    const name = this.#providers.get(service)
    return name === undefined ? undefined : this.state.byName.get(name)
  }

  /**
   * `ctx.services` of `consumer`: the services of the plugins in its `dependencies`, whatever
   * their state (a disabled plugin registers too, to be enabled later). Any other throws
   * PLUGINKIT_ERR_SERVICE naming both plugins and the service.
   */
  forPlugin (consumer: string, dependencies: Readonly<Record<string, string>>): Readonly<PluginServices> {
    const depends = (record: PluginRecord | undefined): record is PluginRecord =>
      record !== undefined && Object.hasOwn(dependencies, record.name)
    const read = (service: string): unknown => {
      const provider = this.#provider(service)
      if (depends(provider)) return provider.contributions.provide[service]
      if (PROBED.has(service)) return undefined
      throw this.#notADependency(consumer, dependencies, service, provider)
    }
    const names = () => [...this.#providers.keys()].filter((service) => depends(this.#provider(service)))
    return view(read, names)
  }

  #notADependency (
    consumer: string, dependencies: Readonly<Record<string, string>>, service: string, provider: PluginRecord | undefined
  ): PluginKitError {
    const field = `services.${service}`
    if (provider !== undefined) {
      return kitError('PLUGINKIT_ERR_SERVICE', { plugin: consumer }, field,
        `service "${service}" is provided by plugin "${provider.name}", which is not in its dependencies: ` +
        `add "${provider.name}" to dependencies`)
    }
    const names = Object.keys(dependencies)
    const listed = names.length === 0 ? 'it has no dependencies' : `its dependencies: ${names.map((name) => `"${name}"`).join(', ')}`
    return kitError('PLUGINKIT_ERR_SERVICE', { plugin: consumer }, field,
      `no plugin it depends on provides service "${service}" (${listed}); list the provider in dependencies so that it registers first`)
  }

  /** The host's lookup: an enabled provider's service, else PLUGINKIT_ERR_SERVICE. */
  lookup (service: string): unknown {
    const provider = this.#provider(service)
    if (provider === undefined) {
      // No plugin to name: the host asked for a service nobody provides.
      const error = kitError('PLUGINKIT_ERR_SERVICE', { store: 'app.pluginKit' }, `services.${service}`,
        `no loaded plugin provides service "${service}"`)
      delete error.store
      throw error
    }
    if (!provider.enabled) {
      throw kitError('PLUGINKIT_ERR_SERVICE', { plugin: provider.name }, `provide.${service}`,
        `service "${service}" is unavailable while plugin "${provider.name}" is disabled`)
    }
    return provider.contributions.provide[service]
  }

  /** `app.pluginKit.services` and `service(name)`. */
  api (): Pick<PluginKit, 'services' | 'service'> {
    const services = view((service) => PROBED.has(service) && this.#provider(service) === undefined ? undefined : this.lookup(service),
      () => [...this.#providers.keys()].filter((service) => this.#provider(service)?.enabled === true))
    return {
      services,
      service: <K extends keyof PluginServices>(name: K) => this.lookup(String(name)) as PluginServices[K]
    }
  }

  /** What a loaded plugin offers besides what PluginInfo says. */
  offered (plugin: string): Offered {
    const contributions = this.state.byName.get(plugin)?.contributions
    if (contributions === undefined) return { services: [], decorators: [] }
    const { instance, request, reply } = contributions.decorate
    return {
      services: Object.keys(contributions.provide),
      decorators: [
        ...instance.map(([name]) => `instance.${name}`),
        ...request.map(([name]) => `request.${name}`),
        ...reply.map(([name]) => `reply.${name}`)
      ]
    }
  }
}

/** A plugin's services and decorators (`request.user`), as `fastify-pluginkit check` lists them. */
export interface Offered {
  services: string[]
  decorators: string[]
}

const registries = new WeakMap<object, ServiceRegistry>()

/** Lets `offeredBy` answer for this `app.pluginKit`, without adding to the public API. */
export function exposeOffered (kit: PluginKit, registry: ServiceRegistry): void {
  registries.set(kit, registry)
}

/** What `plugin` offers, read through the `app.pluginKit` of the kit that loaded it. */
export function offeredBy (kit: PluginKit, plugin: string): Offered {
  return registries.get(kit)?.offered(plugin) ?? { services: [], decorators: [] }
}
