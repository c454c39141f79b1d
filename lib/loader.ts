import { existsSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { pathToFileURL } from 'node:url'
import pLimit from 'p-limit'
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
 * when the time is up, as it is rarely needed. The
 * timer keeps the process alive: a host awaiting a hanging plugin gets this error rather than
 * a silent exit.
 */
export async function withTimeout<T> (work: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  // Not p-timeout: it builds an Error with its stack on every call, ~45 µs each, 2–3 calls a plugin at boot.
  let timer: ReturnType<typeof setTimeout> | undefined
  const late = new Promise<never>((_resolve, reject) => {
    // At least 1 ms: a tiny Fastify pluginTimeout gives 0 (0.8 × 1 ms, rounded down).
    timer = setTimeout(() => { reject(onTimeout()) }, Math.max(1, ms))
  })
  try {
    return await Promise.race([work, late])
  } finally {
    clearTimeout(timer)
  }
}

function importError (candidate: Candidate, error: unknown): PluginKitError {
  const code = (error as { code?: unknown } | null)?.code
  if (candidate.entry !== undefined && TYPESCRIPT.test(candidate.entry) && code === 'ERR_UNKNOWN_FILE_EXTENSION') {
    return kitError('PLUGINKIT_ERR_PLUGIN_IMPORT', candidate.subject, 'entry',
      `${candidate.entry} is TypeScript: run the host under a TypeScript loader (tsx) or compile the plugin to JavaScript`, error)
  }
  return kitError('PLUGINKIT_ERR_PLUGIN_IMPORT', candidate.subject, 'entry', `cannot import ${candidate.entry}: ${describe(error)}`, error)
}

type Namespace = Record<string, unknown>

/** The manifest of an entry's namespace: the default export when it is an object, else the namespace (named-exports form). */
function manifestOf (namespace: Namespace): unknown {
  const fallback = namespace.default
  return fallback !== null && typeof fallback === 'object' ? fallback : namespace
}

/**
 * Imports a candidate's entry module and returns its manifest: the default export when it
 * is an object, else the module namespace (named-exports form).
 */
export async function importManifest (candidate: Candidate, timeoutMs: number, loadTimeout = timeoutMs): Promise<unknown> {
  if (candidate.error !== undefined) throw candidate.error
  const url = pathToFileURL(candidate.entry as string).href
  let namespace: Namespace
  try {
    namespace = await withTimeout(import(url) as Promise<Namespace>, timeoutMs, () =>
      kitError('PLUGINKIT_ERR_PLUGIN_IMPORT', candidate.subject, 'entry',
        `import of ${candidate.entry} did not finish within loadTimeout (${loadTimeout} ms)`))
  } catch (error) {
    throw isPluginKitError(error, 'PLUGINKIT_ERR_PLUGIN_IMPORT') ? error : importError(candidate, error)
  }
  imported.add(url)
  return manifestOf(namespace)
}

export interface ImportedManifest {
  raw?: unknown
  error?: PluginKitError
  /** This candidate's share of the import's wall time. */
  importMs: number
}

const packageTypes = new Map<string, boolean>()

/** Whether `.js`/`.ts` files in `dir` are ES modules: the nearest package.json says "type": "module" (cached per folder). */
function moduleScope (dir: string): boolean {
  let known = packageTypes.get(dir)
  if (known === undefined) {
    const path = join(dir, 'package.json')
    if (existsSync(path)) {
      try {
        known = (JSON.parse(readFileSync(path, 'utf8')) as { type?: unknown }).type === 'module'
      } catch {
        known = false
      }
    } else {
      known = dirname(dir) === dir ? false : moduleScope(dirname(dir))
    }
    packageTypes.set(dir, known)
  }
  return known
}

/**
 * Only ES module entries are grouped: on Node 20 a CommonJS module that throws while a static
 * graph evaluates also surfaces as an unhandled rejection (Node 22 fixed it).
 */
function groupable (entry: string): boolean {
  if (/\.m[jt]s$/.test(entry)) return true
  return /\.[jt]s$/.test(entry) && moduleScope(dirname(entry))
}

/** Entry URLs this process has imported: importing one again is a lookup (or, after a dev reload, a new URL from the resolve hook). */
const imported = new Set<string>()
const GROUP_SIZE = 32
const GROUP_CONCURRENCY = 2
let groupId = 0

/** One candidate at a time, with its own timeout. */
/** `timeoutMs`: what is left of `loadTimeout` (a retry after a group). */
async function importOne (candidate: Candidate, timeoutMs: number, loadTimeout = timeoutMs): Promise<ImportedManifest> {
  const started = performance.now()
  try {
    return { raw: await importManifest(candidate, timeoutMs, loadTimeout), importMs: performance.now() - started }
  } catch (error) {
    return { error: error as PluginKitError, importMs: 0 }
  }
}

/**
 * A group of entries through one generated module that re-exports each one's namespace.
 * If the group fails (one entry throws, does not parse or does not link) or does not finish in
 * time, each entry is imported again on its own, so that each error is its plugin's: the
 * others are cached by then. Those retries get what is left of the timeout (at least a tenth),
 * so that a hanging entry still fails within Fastify's pluginTimeout (the default loadTimeout
 * is 0.8 of it).
 */
async function importGroup (group: Candidate[], timeoutMs: number): Promise<ImportedManifest[]> {
  const urls = group.map((candidate) => pathToFileURL(candidate.entry as string).href)
  // Unique, so that Node never hands back a group module linked to modules a reload has replaced since.
  const source = `// fastify-pluginkit import group ${++groupId}\n` +
    urls.map((url, index) => `export * as m${index} from ${JSON.stringify(url)}`).join('\n')
  const started = performance.now()
  try {
    const namespaces = await withTimeout(import(`data:text/javascript,${encodeURIComponent(source)}`) as Promise<Record<string, Namespace>>,
      timeoutMs, () => new Error('timeout'))
    const importMs = (performance.now() - started) / group.length
    for (const url of urls) imported.add(url)
    return urls.map((_, index) => ({ raw: manifestOf(namespaces[`m${index}`] as Namespace), importMs }))
  } catch {
    // What is left of the budget (at least a tenth of it, for the entries already cached).
    const retry = Math.max(1, Math.floor(timeoutMs / 10), Math.floor(timeoutMs - (performance.now() - started)))
    return await Promise.all(group.map((candidate) => importOne(candidate, retry, timeoutMs)))
  }
}

/**
 * Imports each candidate's entry and returns its manifest or its error, in input order.
 * Node walks the whole static graph below a module each time it imports a new one (every
 * module it imports, TypeBox's ~370 for a plugin with a config schema): one `import()` per
 * plugin walks it once per plugin. Entries this process has not imported yet are imported
 * in groups of 32 through one module each (one walk per group, about 40 % less CPU for 1000
 * plugins); the others, already in Node's cache, one by one.
 */
export async function importManifests (candidates: Candidate[], timeoutMs: number): Promise<ImportedManifest[]> {
  const results: ImportedManifest[] = new Array<ImportedManifest>(candidates.length)
  // Grouped: ES modules not imported yet. One by one: the others.
  const fresh: number[] = []
  const known: number[] = []
  candidates.forEach((candidate, index) => {
    if (candidate.error !== undefined) results[index] = { error: candidate.error, importMs: 0 }
    else {
      const entry = candidate.entry as string
      ;(imported.has(pathToFileURL(entry).href) || !groupable(entry) ? known : fresh).push(index)
    }
  })
  const groups: number[][] = []
  for (let at = 0; at < fresh.length; at += GROUP_SIZE) groups.push(fresh.slice(at, at + GROUP_SIZE))
  await Promise.all([
    mapLimit(groups, GROUP_CONCURRENCY, async (group) => {
      const outcomes = await importGroup(group.map((index) => candidates[index] as Candidate), timeoutMs)
      group.forEach((index, position) => { results[index] = outcomes[position] as ImportedManifest })
    }),
    mapLimit(known, 16, async (index) => { results[index] = await importOne(candidates[index] as Candidate, timeoutMs) })
  ])
  return results
}
