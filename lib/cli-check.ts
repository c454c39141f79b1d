import { createRequire } from 'node:module'
import { readFileSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { exports as resolveExports } from 'resolve.exports'
import type { FastifyInstance } from 'fastify'
import { discoverLocal, discoverPackages, findPackageDir, type Candidate } from './discovery.js'
import { describe, isPluginKitError } from './errors.js'
import pluginKit, { kitVersion } from './index.js'
import { CliError } from './cli-error.js'
import { offeredBy } from './services.js'
import { preloadCompiler } from './typebox-runtime.js'
import type { PluginKitOptions } from './types.js'

export interface CheckOptions {
  /** `pluginsBase`; default `process.cwd()`. */
  base: string
  /** `pluginsFolder`, only when given explicitly (then it must exist). */
  folder?: string
  packages: string[]
  /** A JSON file with `pluginConfig` (plugin name → config). */
  pluginConfigFile?: string
}

export interface Problem {
  code: string
  message: string
}

export interface CheckedPlugin {
  /** The manifest name; for a plugin that failed before its name was known, its folder or package name. */
  name: string
  /** The manifest's version; for a failed plugin, what its manifest says if it could be read. */
  version?: string
  state: 'enabled' | 'disabled' | 'failed'
  source: 'local' | 'package' | 'installed'
  packageName?: string
  dir?: string
  extensionPoints: string[]
  dependencies: Record<string, string>
  /** The services it provides (`provide`). */
  services: string[]
  /** The Fastify decorators it adds (`decorate`), as `instance.name`, `request.name`, `reply.name`. */
  decorators: string[]
  problems: Problem[]
}

export interface CheckReport {
  ok: boolean
  kitVersion: string
  /** The Fastify version the plugins were checked against (the host's, when --base has one). */
  fastifyVersion: string | undefined
  base: string
  folder: string
  packages: string[]
  plugins: CheckedPlugin[]
  /** A boot-level error (bad option, missing explicit folder): no plugin was checked. */
  error?: Problem
}

const TYPESCRIPT = /\.[mc]?ts$/

function problemOf (error: unknown): Problem {
  const code = (error as { code?: unknown } | null)?.code
  return { code: isPluginKitError(error) || typeof code === 'string' ? String(code) : 'ERROR', message: describe(error) }
}

/** The ES module file `specifier` (a bare `package/subpath`) resolves to from `base`, as an import there would. */
function resolveImport (base: string, specifier: string): string | undefined {
  const [, packageName, subpath] = /^((?:@[^/]+\/)?[^/]+)(\/.*)?$/.exec(specifier) ?? []
  if (packageName === undefined) return undefined
  const dir = findPackageDir(packageName, base)
  if (dir === undefined) return undefined
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { exports?: unknown }
  if (pkg.exports === undefined) return createRequire(join(base, 'noop.js')).resolve(specifier)
  const target = resolveExports(pkg, `.${subpath ?? ''}`)?.[0]
  return target === undefined ? undefined : resolve(dir, target)
}

/** A module imported from the host's folder (as the host app would load it), else from the kit's own. */
async function importFromBase<T> (base: string, specifier: string): Promise<T | undefined> {
  try {
    const path = resolveImport(base, specifier)
    if (path !== undefined) return await import(pathToFileURL(path).href) as T
  } catch {}
  try {
    return await import(specifier) as T
  } catch {
    return undefined
  }
}

function runsUnderTsx (): boolean {
  return [...process.execArgv, process.env.NODE_OPTIONS ?? ''].some((arg) => /\btsx\b/.test(arg))
}

/** The kit's own discovery, to see what check is about to load; [] when the folder or a package is unusable (the boot reports it). */
async function candidatesOf (options: CheckOptions, folder: string): Promise<Candidate[]> {
  try {
    return [...discoverPackages(options.packages, options.base), ...await discoverLocal(folder, false)]
  } catch {
    return []
  }
}

/**
 * TypeScript plugins need a loader: when discovery finds a `.ts` entry and tsx is
 * installed, register tsx's ESM hooks, as `node --import tsx` would. Otherwise the kit
 * reports the plugin with its usual "run the host under a TypeScript loader" error.
 */
async function enableTypeScript (base: string, candidates: Candidate[]): Promise<void> {
  if (runsUnderTsx()) return
  if (!candidates.some((candidate) => candidate.entry !== undefined && TYPESCRIPT.test(candidate.entry))) return
  const tsx = await importFromBase<{ register?: () => unknown }>(base, 'tsx/esm/api')
  tsx?.register?.()
}

/**
 * The version a failed plugin's manifest declares, for the table. Only for modules the kit
 * imported successfully: they are in the module cache, so importing again runs nothing
 * (a module that failed or hung on import would fail or hang again).
 */
async function declaredVersion (entry: string | undefined, problems: Problem[]): Promise<string | undefined> {
  if (entry === undefined || problems.some((problem) => problem.code === 'PLUGINKIT_ERR_PLUGIN_IMPORT')) return undefined
  try {
    const namespace = await import(pathToFileURL(entry).href) as Record<string, unknown>
    const manifest = namespace.default !== null && typeof namespace.default === 'object'
      ? namespace.default as Record<string, unknown>
      : namespace
    return typeof manifest.version === 'string' && manifest.version !== '' ? manifest.version : undefined
  } catch {
    return undefined
  }
}

async function readPluginConfig (file: string): Promise<Record<string, unknown>> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (error) {
    throw new CliError(`cannot read --plugin-config ${file}: ${describe(error)}`)
  }
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (error) {
    throw new CliError(`--plugin-config ${file} is not valid JSON: ${describe(error)}`)
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new CliError(`--plugin-config ${file} must hold a JSON object mapping plugin names to their config`)
  }
  return value as Record<string, unknown>
}

/**
 * Boots the kit exactly as an app would — same discovery, import, manifest, dependency,
 * extension point and template checks — with `strict: false` (to collect every failure)
 * and the memory store (the state file is never read or written), without listening.
 */
export async function checkPlugins (options: CheckOptions): Promise<CheckReport> {
  const base = resolve(options.base)
  const folder = resolve(base, options.folder ?? 'plugins')
  const report: CheckReport = { ok: false, kitVersion, fastifyVersion: undefined, base, folder, packages: options.packages, plugins: [] }
  const pluginConfig = options.pluginConfigFile === undefined ? {} : await readPluginConfig(resolve(options.pluginConfigFile))

  const candidates = await candidatesOf({ ...options, base }, folder)
  await enableTypeScript(base, candidates)
  // A check is for finding problems: the compiler that words them is loaded up front.
  await preloadCompiler()
  type FastifyFactory = (options: { logger: boolean }) => FastifyInstance
  const fastify = await importFromBase<{ default: FastifyFactory }>(base, 'fastify')
  if (fastify === undefined) throw new CliError('cannot import fastify: install it next to fastify-pluginkit')
  const app = fastify.default({ logger: false })
  report.fastifyVersion = app.version

  const kitOptions: PluginKitOptions = { pluginsBase: base, pluginPackages: options.packages, pluginConfig, strict: false, store: 'memory' }
  if (options.folder !== undefined) kitOptions.pluginsFolder = options.folder
  try {
    await app.register(pluginKit, kitOptions)
    await app.ready()
  } catch (error) {
    report.error = problemOf(error)
    await app.close().catch(() => {})
    return report
  }

  const kit = app.pluginKit
  for (const info of kit.plugins) {
    report.plugins.push({
      name: info.name,
      version: info.version,
      state: info.state,
      source: info.source,
      ...(info.packageName === undefined ? {} : { packageName: info.packageName }),
      dir: info.dir,
      extensionPoints: info.extensionPoints,
      dependencies: info.dependencies,
      ...offeredBy(kit, info.name),
      problems: []
    })
  }
  // A plugin may fail more than once (e.g. itself, then as someone's dependency): one row each.
  const failed = new Map<string, CheckedPlugin>()
  for (const failure of kit.failures) {
    const key = `${failure.plugin}\0${failure.dir ?? ''}`
    let row = failed.get(key)
    if (row === undefined) {
      row = {
        name: failure.plugin,
        version: undefined, // filled in below, once every problem is known
        state: 'failed',
        source: failure.source,
        ...(failure.packageName === undefined ? {} : { packageName: failure.packageName }),
        ...(failure.dir === undefined ? {} : { dir: failure.dir }),
        extensionPoints: [],
        dependencies: {},
        services: [],
        decorators: [],
        problems: []
      }
      failed.set(key, row)
      report.plugins.push(row)
    }
    row.problems.push(problemOf(failure.error))
  }
  for (const row of failed.values()) {
    const version = await declaredVersion(candidates.find((candidate) => candidate.dir === row.dir)?.entry, row.problems)
    if (version !== undefined) row.version = version
  }
  await app.close()
  report.ok = failed.size === 0
  return report
}
