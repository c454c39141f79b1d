import createError from '@fastify/error'
import { errorCodes } from 'fastify'

/** Base class of every error the kit raises; `code` is one of {@link PluginKitErrorCode}. */
export class PluginKitError extends Error {
  declare code: PluginKitErrorCode
  declare statusCode: number
}

export type PluginKitErrorCode =
  | 'PLUGINKIT_ERR_INVALID_OPTION'
  | 'PLUGINKIT_ERR_PLUGINS_FOLDER'
  | 'PLUGINKIT_ERR_PLUGIN_IMPORT'
  | 'PLUGINKIT_ERR_PLUGIN_METADATA'
  | 'PLUGINKIT_ERR_PLUGIN_VERSION'
  | 'PLUGINKIT_ERR_DUPLICATE_PLUGIN'
  | 'PLUGINKIT_ERR_DEPENDENCY'
  | 'PLUGINKIT_ERR_PLUGIN_CONFIG'
  | 'PLUGINKIT_ERR_REGISTER'
  | 'PLUGINKIT_ERR_EXTENSION_POINT'
  | 'PLUGINKIT_ERR_TEMPLATE_NOT_FOUND'
  | 'PLUGINKIT_ERR_NOT_FOUND'
  | 'PLUGINKIT_ERR_STATE_STORE'

// The HTTP status an error maps to when it reaches a reply (the admin API relies on it).
const statusCodes: Record<PluginKitErrorCode, number> = {
  PLUGINKIT_ERR_INVALID_OPTION: 500,
  PLUGINKIT_ERR_PLUGINS_FOLDER: 500,
  PLUGINKIT_ERR_PLUGIN_IMPORT: 500,
  PLUGINKIT_ERR_PLUGIN_METADATA: 500,
  PLUGINKIT_ERR_PLUGIN_VERSION: 500,
  PLUGINKIT_ERR_DUPLICATE_PLUGIN: 500,
  PLUGINKIT_ERR_DEPENDENCY: 409,
  PLUGINKIT_ERR_PLUGIN_CONFIG: 500,
  PLUGINKIT_ERR_REGISTER: 500,
  PLUGINKIT_ERR_EXTENSION_POINT: 500,
  PLUGINKIT_ERR_TEMPLATE_NOT_FOUND: 500,
  PLUGINKIT_ERR_NOT_FOUND: 404,
  PLUGINKIT_ERR_STATE_STORE: 503
}

type KitErrorConstructor = new (message: string, options?: { cause: unknown }) => PluginKitError

const constructors = new Map<PluginKitErrorCode, KitErrorConstructor>()
for (const [code, status] of Object.entries(statusCodes) as Array<[PluginKitErrorCode, number]>) {
  constructors.set(code, createError(code, '%s', status, PluginKitError as unknown as globalThis.ErrorConstructor) as unknown as KitErrorConstructor)
}

/**
 * Creates a coded kit error. `subject` names the plugin (its name, folder or package) or
 * the option; `field` the offending manifest field, extension point key or option path.
 */
export function kitError (
  code: PluginKitErrorCode,
  subject: string,
  field: string | undefined,
  detail: string,
  cause?: unknown
): PluginKitError {
  const Ctor = constructors.get(code) as KitErrorConstructor
  const where = field === undefined ? subject : `${subject}: ${field}`
  const error = cause === undefined ? new Ctor(`${where}: ${detail}`) : new Ctor(`${where}: ${detail}`, { cause })
  error.name = 'PluginKitError'
  return error
}

export function isPluginKitError (error: unknown): error is PluginKitError {
  return error instanceof PluginKitError
}

/** `instanceof Error`, for values whose prototype lookup may throw (a Proxy's trap). */
function isError (value: unknown): value is Error {
  try {
    return value instanceof Error
  } catch {
    return false
  }
}

/** A short message for an unknown thrown value, for use in error details. */
export function describe (error: unknown): string {
  // Every step may run a plugin's code (getters, Proxy traps, toString) and throw.
  try {
    return isError(error) ? String(error.message) : String(error)
  } catch {
    // Objects without a prototype, or whose toString throws (a Proxy may even throw on the tag).
    try {
      return Object.prototype.toString.call(error)
    } catch {
      return '[a value that cannot be printed]'
    }
  }
}

const { FST_ERR_SEND_UNDEFINED_ERR } = errorCodes

/**
 * What a plugin threw, as an Error Fastify can answer with. Fastify itself crashes on a
 * non-Error thrown in onSend and lets a falsy one in onRequest through, so every value a
 * plugin's hook throws or rejects with passes through here: falsy values become
 * FST_ERR_SEND_UNDEFINED_ERR (what Fastify answers for `throw undefined`), other non-Errors
 * an Error with the value as `cause` (keeping a 4xx/5xx `statusCode` they carry).
 */
export function asError (value: unknown): Error {
  if (isError(value)) return value
  if (!value) return new FST_ERR_SEND_UNDEFINED_ERR()
  let status: unknown
  try {
    status = (value as { statusCode?: unknown }).statusCode
  } catch {}
  const error = new Error(describe(value), { cause: value })
  if (typeof status === 'number' && status >= 400 && status <= 599) Object.assign(error, { statusCode: status })
  return error
}
