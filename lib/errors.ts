import createError from '@fastify/error'

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

/** A short message for an unknown thrown value, for use in error details. */
export function describe (error: unknown): string {
  if (error instanceof Error) return error.message
  try {
    return String(error)
  } catch {
    // Objects without a prototype, or whose toString throws.
    return Object.prototype.toString.call(error)
  }
}
