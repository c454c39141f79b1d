import { pathToFileURL } from 'node:url'
import { kitError, describe, type PluginKitError } from './errors.js'
import type { Candidate } from './discovery.js'

const TYPESCRIPT = /\.[mc]?ts$/

/**
 * `map` over `items` with at most `limit` calls in flight, results in input order.
 * Importing a thousand plugins all at once would only raise the memory peak (which the
 * process keeps as resident memory) without finishing sooner.
 */
export async function mapLimit<T, R> (items: T[], limit: number, map: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length)
  let next = 0
  const worker = async () => {
    while (next < items.length) {
      const index = next++
      results[index] = await map(items[index] as T)
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
  return results
}

/** Rejects with `onTimeout()` if `work` has not settled within `ms`; never keeps the process alive. */
export async function withTimeout<T> (work: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms)
    timer.unref()
  })
  try {
    return await Promise.race([work, timeout])
  } finally {
    clearTimeout(timer)
  }
}

function importError (candidate: Candidate, error: unknown): PluginKitError {
  const code = (error as { code?: unknown } | null)?.code
  if (candidate.entry !== undefined && TYPESCRIPT.test(candidate.entry) && code === 'ERR_UNKNOWN_FILE_EXTENSION') {
    return kitError('PLUGINKIT_ERR_PLUGIN_IMPORT', candidate.label, 'entry',
      `${candidate.entry} is TypeScript: run the host under a TypeScript loader (tsx) or compile the plugin to JavaScript`, error)
  }
  return kitError('PLUGINKIT_ERR_PLUGIN_IMPORT', candidate.label, 'entry', `cannot import ${candidate.entry}: ${describe(error)}`, error)
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
      kitError('PLUGINKIT_ERR_PLUGIN_IMPORT', candidate.label, 'entry', `import of ${candidate.entry} did not finish within loadTimeout (${timeoutMs} ms)`))
  } catch (error) {
    throw error instanceof Error && (error as PluginKitError).code === 'PLUGINKIT_ERR_PLUGIN_IMPORT' ? error : importError(candidate, error)
  }
  const fallback = namespace.default
  return fallback !== null && typeof fallback === 'object' ? fallback : namespace
}
