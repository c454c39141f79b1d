import { NAME_PATTERN } from '../constants.js'
import type { PluginServices } from '../types.js'
import { definePoint, ExtensionPointError, isObject } from './point.js'

/**
 * What a plugin may `provide`: the services declared in `PluginServices` (by declaration
 * merging), each of its declared type. Until a project declares any, any name is accepted.
 */
export type ProvidedServices = { [K in keyof PluginServices]?: PluginServices[K] }

const name = new RegExp(NAME_PATTERN)

/**
 * Services a plugin offers to its dependents (`ctx.services`) and to the host
 * (`app.pluginKit.services`). Kept as a prototype-less map, so a lookup never reaches
 * Object.prototype; recorded and looked up by services.ts.
 */
export const provide = definePoint<ProvidedServices, Readonly<Record<string, unknown>>>({
  normalize (raw) {
    if (!isObject(raw)) throw new ExtensionPointError('provide', 'must be an object { serviceName: value }')
    const services: Record<string, unknown> = Object.create(null)
    for (const [key, value] of Object.entries(raw)) {
      if (!name.test(key)) {
        throw new ExtensionPointError(`provide.${key}`,
          'is not a valid service name (letters, digits, "_" and "-", starting with a letter or digit)')
      }
      if (value === undefined) throw new ExtensionPointError(`provide.${key}`, 'is undefined: leave the key out to provide nothing')
      services[key] = value
    }
    return Object.freeze(services)
  },
  empty: () => Object.freeze(Object.create(null))
})
