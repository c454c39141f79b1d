import { kitError, wrapError, type PluginKitError } from '../errors.js'
import { closest } from '../validation.js'
import { bep } from './bep.js'
import { cvep } from './cvep.js'
import { decorate } from './decorate.js'
import { errhandler } from './errhandler.js'
import { filter } from './filter.js'
import { hep } from './hep.js'
import { p3 } from './p3.js'
import { ExtensionPointError, type BlueprintLookup, type ExtensionPoint, type Installation, type PointSource } from './point.js'
import { provide } from './provide.js'
import { tcp } from './tcp.js'
import { tep } from './tep.js'
import { vep } from './vep.js'

/**
 * Every extension point, in the order of SPEC section 5. The keys, the public
 * `ExtensionPoints` type, the kit's `Contributions` and the normaliser all derive from
 * this list: a new point is a module in this folder and one line here.
 */
export const POINTS = { bep, hep, vep, cvep, tep, filter, tcp, errhandler, p3, provide, decorate }

type Points = typeof POINTS
export type ExtensionPointKey = keyof Points
type InputOf<P> = P extends ExtensionPoint<infer Input, unknown> ? Input : never
type ValueOf<P> = P extends ExtensionPoint<unknown, infer Value> ? Value : never

/** The object a plugin's `register` returns. */
export type ExtensionPoints = { [K in ExtensionPointKey]?: InputOf<Points[K]> }
/** A plugin's extension points, validated and in one shape each. */
export type Contributions = { [K in ExtensionPointKey]: ValueOf<Points[K]> }

export const EXTENSION_POINT_KEYS = Object.keys(POINTS) as ExtensionPointKey[]

/** Rejects keys that are not extension points, before p3 transforms anything. */
function checkKeys (points: Record<string, unknown>): void {
  for (const key of Object.keys(points)) {
    if (!Object.hasOwn(POINTS, key)) {
      const guess = closest(key, EXTENSION_POINT_KEYS)
      const expected = `expected one of ${EXTENSION_POINT_KEYS.join(', ')}`
      throw new ExtensionPointError(key, `is not an extension point (${guess === undefined ? '' : `did you mean ${guess}? `}${expected})`)
    }
  }
}

/** A point's error, as the plugin's PluginKitError (the one place the points' own error class is converted). */
function asPluginError (plugin: string, error: unknown): PluginKitError {
  if (error instanceof ExtensionPointError) return kitError(error.code, { plugin }, error.field, error.message, error.reason)
  return wrapError(error, 'PLUGINKIT_ERR_EXTENSION_POINT', { plugin }, undefined, '')
}

/** Validates and normalises the object `register` returned; throws a PluginKitError naming the plugin and field. */
export function normalizeContributions (points: Record<string, unknown>, source: PointSource): Contributions {
  try {
    checkKeys(points)
    const contributions: Partial<Record<ExtensionPointKey, unknown>> = {}
    for (const key of EXTENSION_POINT_KEYS) {
      const point = POINTS[key] as ExtensionPoint<unknown, unknown>
      contributions[key] = points[key] === undefined ? point.empty() : point.normalize(points[key], source)
    }
    return contributions as Contributions
  } catch (error) {
    throw asPluginError(source.plugin, error)
  }
}

/** Installs every point that has an installation: app-wide ones first, then those that register contexts. */
export function installPoints (installation: Installation): void {
  const points = Object.values(POINTS) as Array<ExtensionPoint<unknown, unknown>>
  for (const point of points) if (point.registersContexts !== true) point.install?.(installation)
  for (const point of points) if (point.registersContexts === true) point.install?.(installation)
}

/** The first reference of a plugin's contributions to another plugin that does not hold. */
export function referenceError (plugin: string, contributions: Contributions, blueprintOf: BlueprintLookup): PluginKitError | undefined {
  for (const key of EXTENSION_POINT_KEYS) {
    const point = POINTS[key] as ExtensionPoint<unknown, unknown>
    const error = point.references?.(contributions[key], plugin, blueprintOf)
    if (error !== undefined) return asPluginError(plugin, error)
  }
  return undefined
}

export type { Installation }
export type { Blueprint, BlueprintEntry } from './bep.js'
export type { ClassView, ControllerClass } from './cvep.js'
export type { DecoratorAccessor, DecoratorInitial, Decorators } from './decorate.js'
export type { ErrorClass, ErrorHandler, ErrorHandlerEntry } from './errhandler.js'
export type { TemplateFilter } from './filter.js'
export type { RequestHooks } from './hep.js'
export type { ProvidedServices } from './provide.js'
export type { TemplateContribution, TemplateEntry } from './tep.js'
export type { ViewRoute } from './vep.js'
