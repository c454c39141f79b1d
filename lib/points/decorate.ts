import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { describe, kitError, type PluginKitError } from '../errors.js'
import { definePoint, ExtensionPointError, isObject, type InstalledPlugin, type PluginTable } from './point.js'

/** A value computed when read, as Fastify's `decorateRequest(name, { getter, setter })`. */
export interface DecoratorAccessor<This> {
  getter (this: This): unknown
  setter? (this: This, value: unknown): void
}

/**
 * The initial value of a request or reply decorator: a primitive (typically `null`, filled
 * by a `before_request` hook), a method, or a getter. Not an object or array: one object
 * would be shared by every request (Fastify refuses it: FST_ERR_DEC_REFERENCE_TYPE).
 */
export type DecoratorInitial<This> =
  | string | number | boolean | bigint | symbol | null | undefined
  | ((this: This, ...args: never[]) => unknown)
  | DecoratorAccessor<This>

/** App-wide Fastify decorators; type them by merging into `FastifyInstance`, `FastifyRequest`, `FastifyReply`. */
export interface Decorators {
  instance?: Record<string, unknown>
  request?: Record<string, DecoratorInitial<FastifyRequest>>
  reply?: Record<string, DecoratorInitial<FastifyReply>>
}

export type DecoratorKind = 'instance' | 'request' | 'reply'
export type DecoratorList = Record<DecoratorKind, Array<[string, unknown]>>

const KINDS: readonly DecoratorKind[] = ['instance', 'request', 'reply']

/**
 * Names the kit's own registrations take (@fastify/view with the `view` option) after the
 * points are installed: refused always, so that a plugin does not depend on the host's options.
 */
const RESERVED: Record<DecoratorKind, readonly string[]> = { instance: ['view'], request: [], reply: ['view', 'viewAsync', 'locals'] }

function isAccessor (value: object): boolean {
  const { getter, setter } = value as { getter?: unknown, setter?: unknown }
  return typeof getter === 'function' && (setter === undefined || typeof setter === 'function')
}

function normalizeKind (kind: DecoratorKind, raw: unknown): Array<[string, unknown]> {
  if (raw === undefined) return []
  if (!isObject(raw)) throw new ExtensionPointError(`decorate.${kind}`, 'must be an object { name: value }')
  return Object.entries(raw).map(([name, value]): [string, unknown] => {
    if (name === '') throw new ExtensionPointError(`decorate.${kind}`, 'has an empty decorator name')
    if (kind !== 'instance' && typeof value === 'object' && value !== null && !isAccessor(value)) {
      throw new ExtensionPointError(`decorate.${kind}.${name}`,
        `is ${Array.isArray(value) ? 'an array' : 'an object'}, which every ${kind} would share (Fastify refuses it); ` +
        `give null and set it per ${kind} in a before_request hook, or { getter () { ... } }`)
    }
    return [name, value]
  })
}

type DecoratePlugin = InstalledPlugin<{ decorate: DecoratorList }>

function exists (app: FastifyInstance, kind: DecoratorKind, name: string): boolean {
  if (kind === 'instance') return app.hasDecorator(name)
  return kind === 'request' ? app.hasRequestDecorator(name) : app.hasReplyDecorator(name)
}

/** Why `plugin` cannot add `kind.name`, if it cannot. */
function clash (
  app: FastifyInstance, owners: Map<string, string>, plugin: string, kind: DecoratorKind, name: string
): PluginKitError | undefined {
  const decorator = `${kind}.${name}`
  const fail = (detail: string) => kitError('PLUGINKIT_ERR_EXTENSION_POINT', { plugin }, `decorate.${decorator}`, detail)
  const owner = owners.get(decorator)
  if (owner !== undefined) return fail(`${decorator} is already decorated by plugin "${owner}"`)
  if (RESERVED[kind].includes(name)) return fail(`${decorator} is reserved by the kit (@fastify/view, registered with its view option)`)
  if (exists(app, kind, name)) {
    return fail(`${decorator} already exists: Fastify has it, or another Fastify plugin registered before the kit decorated it`)
  }
  return undefined
}

function apply (app: FastifyInstance, kind: DecoratorKind, name: string, value: unknown): void {
  // Fastify's own rules apply as they are: request/reply values are set per request, methods and getters go on the prototype.
  if (kind === 'instance') app.decorate(name, value)
  else if (kind === 'request') app.decorateRequest(name, value)
  else app.decorateReply(name, value)
}

/**
 * Adds every plugin's decorators to the host's root instance, in load order, disabled plugins'
 * too: Fastify cannot remove a decorator later, so it is there from boot and stays while its
 * plugin is disabled (its hooks, which fill it, are gated). A plugin whose decorator clashes
 * adds none of them and is dropped (strict: boot fails) naming the decorator.
 */
function installDecorators (
  app: FastifyInstance, state: PluginTable<DecoratePlugin>, dropped: (plugin: DecoratePlugin, error: PluginKitError) => void
): void {
  const owners = new Map<string, string>()
  for (const plugin of [...state.records]) {
    // Dropped meanwhile, with a dependency whose decorator clashed.
    if (!state.records.includes(plugin)) continue
    const wanted = KINDS.flatMap((kind) => plugin.contributions.decorate[kind].map(([name, value]) => ({ kind, name, value })))
    const refusal = wanted.map(({ kind, name }) => clash(app, owners, plugin.name, kind, name)).find((error) => error !== undefined)
    if (refusal !== undefined) {
      dropped(plugin, refusal)
      continue
    }
    for (const { kind, name, value } of wanted) {
      try {
        apply(app, kind, name, value)
      } catch (error) {
        // Not foreseen by the checks above; what was added before it stays (Fastify cannot remove it).
        dropped(plugin, kitError('PLUGINKIT_ERR_EXTENSION_POINT', { plugin: plugin.name }, `decorate.${kind}.${name}`,
          `Fastify refused it: ${describe(error)}`, error))
        break
      }
      owners.set(`${kind}.${name}`, plugin.name)
    }
  }
}

/** Fastify decorators on the host: `instance`, `request`, `reply`. Installed before any plugin context. */
export const decorate = definePoint<Decorators, DecoratorList>({
  normalize (raw) {
    if (!isObject(raw)) throw new ExtensionPointError('decorate', 'must be an object { instance?, request?, reply? }')
    for (const key of Object.keys(raw)) {
      if (!(KINDS as readonly string[]).includes(key)) {
        throw new ExtensionPointError(`decorate.${key}`, 'is not a kind of decorator (expected instance, request or reply)')
      }
    }
    return {
      instance: normalizeKind('instance', raw.instance),
      request: normalizeKind('request', raw.request),
      reply: normalizeKind('reply', raw.reply)
    }
  },
  empty: () => ({ instance: [], request: [], reply: [] }),
  install: ({ app, state, dropped }) => installDecorators(app, state as PluginTable<DecoratePlugin>, dropped)
})
