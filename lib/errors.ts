import createError from '@fastify/error'
import { errorCodes } from 'fastify'

/**
 * Whom an error is about: a plugin by name, or by its folder or package while its name is
 * not known yet; a kit option (or a dcp argument); a state store.
 */
export type ErrorSubject =
  | { plugin: string }
  | { dir: string }
  | { package: string }
  | { option: string }
  | { store: string }

/**
 * Base class of every error the kit raises; `code` is one of {@link PluginKitErrorCode}.
 * Besides the message, it carries its subject (`plugin`, `dir`, `package`, `option` or
 * `store`) and the offending `field`, so no caller has to read them back out of the message.
 */
export class PluginKitError extends Error {
  declare code: PluginKitErrorCode
  declare statusCode: number
  plugin?: string
  dir?: string
  package?: string
  option?: string
  store?: string
  /** The manifest field, extension point key or option path at fault. */
  field?: string
  /** What is wrong, without the subject and field the message starts with. */
  detail?: string
}

/** The subject as the message names it. */
function describeSubject (subject: ErrorSubject): string {
  if ('plugin' in subject) return `plugin "${subject.plugin}"`
  if ('dir' in subject) return `plugin folder "${subject.dir}"`
  if ('package' in subject) return `package "${subject.package}"`
  if ('option' in subject) return `option ${subject.option}`
  return subject.store
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
  | 'PLUGINKIT_ERR_SERVICE'
  | 'PLUGINKIT_ERR_INSTALL'
  | 'PLUGINKIT_ERR_INTEGRITY'

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
  PLUGINKIT_ERR_STATE_STORE: 503,
  PLUGINKIT_ERR_SERVICE: 500,
  // Install errors carry their own status (403 not allowed, 404 unknown version, 413 too large, 502 registry...).
  PLUGINKIT_ERR_INSTALL: 400,
  PLUGINKIT_ERR_INTEGRITY: 422
}

type KitErrorConstructor = new (message: string, options?: { cause: unknown }) => PluginKitError

const constructors = new Map<PluginKitErrorCode, KitErrorConstructor>()
for (const [code, status] of Object.entries(statusCodes) as Array<[PluginKitErrorCode, number]>) {
  const Base = PluginKitError as unknown as globalThis.ErrorConstructor
  constructors.set(code, createError(code, '%s', status, Base) as unknown as KitErrorConstructor)
}

/**
 * Creates a coded kit error about `subject`; `field` is the offending manifest field,
 * extension point key or option path. The message is built from them:
 * `plugin "hello": version: must be semver`.
 */
export function kitError (
  code: PluginKitErrorCode,
  subject: ErrorSubject,
  field: string | undefined,
  detail: string,
  cause?: unknown
): PluginKitError {
  const Ctor = constructors.get(code) as KitErrorConstructor
  const where = field === undefined ? describeSubject(subject) : `${describeSubject(subject)}: ${field}`
  const error = cause === undefined ? new Ctor(`${where}: ${detail}`) : new Ctor(`${where}: ${detail}`, { cause })
  error.name = 'PluginKitError'
  Object.assign(error, subject)
  if (field !== undefined) error.field = field
  error.detail = detail
  return error
}

/**
 * The one way a foreign error becomes ours: a PluginKitError with one of the `keep` codes
 * (or any code: `'any'`) passes through as it is (it already names its subject); anything else is wrapped in a
 * `code` error about `subject`, with `detail` before the original message and it as cause.
 */
export function wrapError (
  error: unknown,
  code: PluginKitErrorCode,
  subject: ErrorSubject,
  field: string | undefined,
  detail: string,
  keep: readonly PluginKitErrorCode[] | 'any' = [code]
): PluginKitError {
  if (error instanceof PluginKitError && (keep === 'any' || keep.includes(error.code))) return error
  return kitError(code, subject, field, `${detail}${describe(error)}`, error)
}

/** `error` answering with HTTP status `statusCode` when it reaches a reply (the admin API maps errors this way). */
export function withStatus<E extends PluginKitError> (error: E, statusCode: number): E {
  error.statusCode = statusCode
  return error
}

/** A kit option (or dcp argument) that is invalid. */
export function invalidOption (option: string, detail: string): PluginKitError {
  return kitError('PLUGINKIT_ERR_INVALID_OPTION', { option }, undefined, detail)
}

/** A PluginKitError, of one of `codes` when given. */
export function isPluginKitError (error: unknown, ...codes: PluginKitErrorCode[]): error is PluginKitError {
  return error instanceof PluginKitError && (codes.length === 0 || codes.includes(error.code))
}

/** `instanceof Error`, for values whose prototype lookup may throw (a Proxy's trap). */
function isError (value: unknown): value is Error {
  try {
    return value instanceof Error
  } catch {
    return false
  }
}

/** What Fastify's error handler reads of an error, and pino's error serializer (besides every enumerable key). */
const READ_KEYS = ['statusCode', 'status', 'code', 'message', 'name', 'stack', 'cause', 'headers', 'validation', 'validationContext',
  'serialization']

/**
 * Whether `error` can be read by whatever handles it: a property that throws (a plugin's
 * getter or Proxy) makes Fastify answer 200 with the getter's message, the kit's quarantine
 * and logger throw in turn.
 */
function readsSafely (value: unknown): boolean {
  if (value === null || (typeof value !== 'object' && typeof value !== 'function')) return true
  const fields = value as Record<string, unknown>
  try {
    for (const key of READ_KEYS) Reflect.get(fields, key)
    for (const key in fields) Reflect.get(fields, key)
    return true
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
 * an Error with the value as `cause` (keeping a 4xx/5xx `statusCode` they carry), and so do
 * Errors whose properties throw when read (without the `cause`, which loggers read too).
 */
export function asError (value: unknown): Error {
  const readable = readsSafely(value)
  if (readable && isError(value)) return value
  if (!value) return new FST_ERR_SEND_UNDEFINED_ERR()
  let status: unknown
  try {
    status = (value as { statusCode?: unknown }).statusCode
  } catch {}
  const error = new Error(describe(value), readable ? { cause: value } : undefined)
  if (typeof status === 'number' && status >= 400 && status <= 599) Object.assign(error, { statusCode: status })
  return error
}
