import { kitError, describe, withStatus, type ErrorSubject, type PluginKitError } from '../errors.js'

/** A PLUGINKIT_ERR_INSTALL answering with `status` (400 bad spec, 403 not allowed, 404 unknown, 409 conflict, 413, 422, 502). */
export function installError (status: number, subject: ErrorSubject, detail: string, cause?: unknown): PluginKitError {
  return withStatus(kitError('PLUGINKIT_ERR_INSTALL', subject, undefined, detail, cause), status)
}

const UNREACHABLE = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH',
  'ERR_SOCKET_TIMEOUT', 'FETCH_ERROR'])

/** What pacote, npm-registry-fetch and arborist throw, as the kit's coded error about `subject`. */
export function registryError (error: unknown, subject: ErrorSubject, what: string): PluginKitError {
  const { code, statusCode } = (error ?? {}) as { code?: string, statusCode?: number }
  const message = describe(error)
  if (code === 'EINTEGRITY') {
    const detail = `${what} does not match its pinned integrity: ${message}`
    return withStatus(kitError('PLUGINKIT_ERR_INTEGRITY', subject, 'integrity', detail, error), 422)
  }
  if (code === 'E404' || code === 'ETARGET' || statusCode === 404) {
    return installError(404, subject, `${what}: not found in the registry (${message})`, error)
  }
  if ((code !== undefined && UNREACHABLE.has(code)) || (typeof statusCode === 'number' && statusCode >= 500)) {
    return installError(502, subject, `${what}: the registry cannot be reached or failed (${message})`, error)
  }
  return installError(422, subject, `${what}: ${message}`, error)
}
