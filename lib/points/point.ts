import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { PluginKitError } from '../errors.js'
import type { Stats } from '../stats.js'
import type { Checker } from '../validation.js'

/**
 * A malformed extension point value: `field` is the path inside what `register` returned
 * (`bep[1].prefix`). Boot turns it into a PluginKitError naming the plugin.
 */
export class ExtensionPointError extends Error {
  constructor (
    readonly field: string,
    detail: string,
    readonly code: 'PLUGINKIT_ERR_EXTENSION_POINT' | 'PLUGINKIT_ERR_TEMPLATE_NOT_FOUND' = 'PLUGINKIT_ERR_EXTENSION_POINT',
    readonly reason?: unknown
  ) {
    super(detail)
  }
}

/** Another loaded plugin's first blueprint (what `bep.parent` and `vep.blueprint` nest into), if it has one. */
export type BlueprintLookup = (plugin: string) => { parent: string | undefined } | undefined

/**
 * A loaded plugin as a point's installation sees it: `C` is the part of its contributions the
 * point reads. The kit's PluginRecord is one; points name only what they use, so they depend
 * on no module above them.
 */
export interface InstalledPlugin<C = Record<string, unknown>> {
  readonly name: string
  readonly enabled: boolean
  readonly stats: Stats
  readonly contributions: C
}

/** The plugins in load order, and a way to rebuild a table whenever their states change. */
export interface PluginTable<P> {
  readonly records: readonly P[]
  watch (build: (records: readonly P[]) => void): void
}

/** What a point's installation works with, once every plugin registered. */
export interface Installation {
  app: FastifyInstance
  state: PluginTable<InstalledPlugin>
  /** Milliseconds a plugin may take to load (blueprints included). */
  loadTimeout: number
  quarantine: {
    onHookError (plugin: InstalledPlugin, error: unknown, request: FastifyRequest, phase: string): void
    onRouteError (plugin: InstalledPlugin, error: unknown, request: FastifyRequest): void
  } | undefined
  /** A plugin failed after it registered: throws to fail boot (strict), or drops it. */
  dropped (plugin: InstalledPlugin, error: PluginKitError): void
  /** Metrics and tracing (SPEC 13); undefined when both are off, so nothing is added. */
  observe?: {
    /** The statistics the plugin's hooks of `phase` count into (metrics: one object per plugin and hook). */
    hookStats? (plugin: InstalledPlugin, phase: string): Stats
    /** A request hook of the plugin failed, in `phase` (metrics count it by hook). */
    hookError? (plugin: InstalledPlugin, phase: string): void
    /** A context of the plugin's routes, its gate added (tracing tags its requests). */
    pluginContext? (instance: FastifyInstance, plugin: InstalledPlugin): void
  }
}

/** The plugin whose value is normalised. */
export interface PointSource {
  plugin: string
  dir: string
}

/**
 * One extension point: a key of the object `register` returns. `Input` is what plugin authors
 * write (the public type), `Value` the one shape the kit keeps.
 */
export interface ExtensionPoint<Input, Value> {
  /** Checks and normalises the plugin's value; throws {@link ExtensionPointError}. */
  normalize (raw: unknown, source: PointSource): Value
  /** The value of a plugin that does not use this point. */
  empty (): Value
  /**
   * Once every plugin registered: the first reference to another plugin that does not hold,
   * as an ExtensionPointError naming the field.
   */
  references? (value: Value, plugin: string, blueprintOf: BlueprintLookup): ExtensionPointError | undefined
  /**
   * Puts what the plugins contribute to work on the app (hooks, handlers, routes), each
   * consumer keeping its own table through `state.watch`. Points without it are read by
   * another point's installation (vep, cvep: bep's) or by the views (tep, filter, tcp) or at
   * boot (p3).
   */
  install? (installation: Installation): void
  /**
   * The installation registers Fastify contexts (routes). Those install last: Fastify adds
   * a hook once the plugins registered before it have loaded, so app-wide hooks and
   * handlers must come first to reach every plugin context.
   */
  readonly registersContexts?: boolean
  /** Carries the public input type, for deriving `ExtensionPoints`; never read at run time. */
  readonly input?: Input
}

export function definePoint<Input, Value> (point: ExtensionPoint<Input, Value>): ExtensionPoint<Input, Value> {
  return point
}

export function check (value: unknown, schema: Checker, field: string): void {
  const problem = schema.problem(value)
  if (problem !== undefined) {
    const path = problem.path === '' ? field : `${field}${problem.path.startsWith('[') ? '' : '.'}${problem.path}`
    throw new ExtensionPointError(path, problem.message)
  }
}

/** A value or an array of values, as a list, each checked with its field name (`key` or `key[i]`). */
export function checkedList<T> (key: string, value: unknown, schema: Checker): T[] {
  const items = Array.isArray(value) ? value : [value]
  items.forEach((entry, index) => check(entry, schema, Array.isArray(value) ? `${key}[${index}]` : key))
  return items as T[]
}

export function isObject (value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
}
