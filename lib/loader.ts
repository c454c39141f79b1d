import { pathToFileURL } from 'node:url'
import pLimit from 'p-limit'
import pTimeout from 'p-timeout'
import { kitError, describe, isPluginKitError, type PluginKitError } from './errors.js'
import type { Candidate } from './discovery.js'

const TYPESCRIPT = /\.[mc]?ts$/

/**
 * `map` over `items` with at most `limit` calls in flight, results in input order.
 * Importing a thousand plugins all at once would only raise the memory peak (which the
 * process keeps as resident memory) without finishing sooner.
 */
export async function mapLimit<T, R> (items: T[], limit: number, map: (item: T) => Promise<R>): Promise<R[]> {
  return await pLimit(limit).map(items, (item) => map(item))
}

/**
 * Rejects with `onTimeout()` if `work` has not settled within `ms`. The error is built only
 * when the time is up (a `fallback`, not p-timeout's `message`), as it is rarely needed. The
 * timer keeps the process alive: a host awaiting a hanging plugin gets this error rather than
 * a silent exit.
 */
export async function withTimeout<T> (work: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  // p-timeout refuses 0, which a tiny Fastify pluginTimeout gives (0.8 × 1 ms, rounded down).
  return await pTimeout(work, { milliseconds: Math.max(1, ms), fallback: () => { throw onTimeout() } })
}

function importError (candidate: Candidate, error: unknown): PluginKitError {
  const code = (error as { code?: unknown } | null)?.code
  if (candidate.entry !== undefined && TYPESCRIPT.test(candidate.entry) && code === 'ERR_UNKNOWN_FILE_EXTENSION') {
    return kitError('PLUGINKIT_ERR_PLUGIN_IMPORT', candidate.subject, 'entry',
      `${candidate.entry} is TypeScript: run the host under a TypeScript loader (tsx) or compile the plugin to JavaScript`, error)
  }
  return kitError('PLUGINKIT_ERR_PLUGIN_IMPORT', candidate.subject, 'entry', `cannot import ${candidate.entry}: ${describe(error)}`, error)
}

/**
 * Imports a candidate's entry module and returns its manifest: the default export when it
 * is an object, else the module namespace (named-exports form).
 */
export async function importManifest (candidate: Candidate, timeoutMs: number): Promise<unknown> {
  if (candidate.error !== undefined) throw candidate.error
  const url = pathToFileURL(candidate.entry as string).href
  let namespace: Record<string, unknown>
  try {
    namespace = await withTimeout(import(url) as Promise<Record<string, unknown>>, timeoutMs, () =>
      kitError('PLUGINKIT_ERR_PLUGIN_IMPORT', candidate.subject, 'entry',
        `import of ${candidate.entry} did not finish within loadTimeout (${timeoutMs} ms)`))
  } catch (error) {
    throw isPluginKitError(error, 'PLUGINKIT_ERR_PLUGIN_IMPORT') ? error : importError(candidate, error)
  }
  const fallback = namespace.default
  return fallback !== null && typeof fallback === 'object' ? fallback : namespace
}
