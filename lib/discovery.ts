import { createRequire } from 'node:module'
import { existsSync, readFileSync } from 'node:fs'
import { readdir, stat } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { exports as resolveExports } from 'resolve.exports'
import validatePackageName from 'validate-npm-package-name'
import { kitError, describe, type ErrorSubject, type PluginKitError } from './errors.js'
import type { ResolvedOptions } from './options.js'

/** A folder that should hold one plugin, before it is imported. */
export interface Candidate {
  source: 'local' | 'package' | 'installed'
  /** The plugin's folder (for packages, the package folder). */
  dir: string
  packageName?: string
  /** For an installed package: its tarball's integrity, as pinned in the lockfile. */
  integrity?: string
  /** Whom errors are about until its manifest name is known: its folder, or its package. */
  subject: ErrorSubject
  /** The module to import; undefined when `error` is set. */
  entry?: string
  /** Set when the candidate cannot even be resolved. */
  error?: PluginKitError
}

const INDEX_FILES = ['index.js', 'index.mjs', 'index.cjs', 'index.ts', 'index.mts', 'index.cts']

interface PackageJson { main?: unknown, exports?: unknown }

function readPackageJson (dir: string): PackageJson | undefined {
  const path = join(dir, 'package.json')
  if (!existsSync(path)) return undefined
  return JSON.parse(readFileSync(path, 'utf8')) as PackageJson
}

/**
 * The entry module of a plugin folder: package.json `exports` (import conditions) or
 * `main`, else `index.{js,mjs,cjs,ts,mts,cts}`. undefined when the folder has none.
 */
export function entryOf (dir: string): string | undefined {
  const pkg = readPackageJson(dir)
  if (pkg?.exports !== undefined) {
    const target = resolveExports(pkg, '.', { conditions: ['node'] })?.[0]
    if (target === undefined) throw new Error('package.json "exports" has no entry for "." under the import conditions')
    return resolve(dir, target)
  }
  if (typeof pkg?.main === 'string') {
    // Node's own rules for "main" (extension and folder index lookup).
    return createRequire(join(dir, 'package.json')).resolve(resolve(dir, pkg.main))
  }
  const index = INDEX_FILES.find((file) => existsSync(join(dir, file)))
  return index === undefined ? undefined : join(dir, index)
}

async function isDirectory (path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory()
  } catch {
    return false
  }
}

/** The candidate for plugin folder `dir`; undefined when it has no entry module. */
export function folderCandidate (dir: string): Candidate | undefined {
  const subject: ErrorSubject = { dir }
  try {
    const entry = entryOf(dir)
    return entry === undefined ? undefined : { source: 'local', dir, subject, entry }
  } catch (error) {
    return { source: 'local', dir, subject, error: kitError('PLUGINKIT_ERR_PLUGIN_IMPORT', subject, 'entry', describe(error), error) }
  }
}

function notAFolder (option: string, folder: string): PluginKitError {
  return kitError('PLUGINKIT_ERR_PLUGINS_FOLDER', { option }, undefined, `${folder} does not exist or is not a directory`)
}

/** Local plugins: direct subfolders with an entry module, by name in code-point order. */
export async function discoverLocal (folder: string, required: boolean): Promise<Candidate[]> {
  if (!(await isDirectory(folder))) {
    if (!required) return []
    throw notAFolder('pluginsFolder', folder)
  }
  const names = (await readdir(folder)).filter((name) => !name.startsWith('.') && !name.startsWith('_') && name !== 'node_modules')
  names.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
  const candidates: Candidate[] = []
  for (const name of names) {
    const dir = join(folder, name)
    if (!(await isDirectory(dir))) continue
    const candidate = folderCandidate(dir)
    if (candidate !== undefined) candidates.push(candidate)
  }
  return candidates
}

/**
 * Explicit plugin folders (`pluginDirs`, absolute), in the order given. Unlike a subfolder
 * of the plugins folder, each was named on purpose: a missing one fails boot, and one
 * without an entry module is a broken plugin rather than ignored.
 */
export async function discoverDirs (dirs: string[]): Promise<Candidate[]> {
  const candidates: Candidate[] = []
  for (const [index, dir] of dirs.entries()) {
    if (!(await isDirectory(dir))) throw notAFolder(`pluginDirs[${index}]`, dir)
    const subject: ErrorSubject = { dir }
    candidates.push(folderCandidate(dir) ?? {
      source: 'local',
      dir,
      subject,
      error: kitError('PLUGINKIT_ERR_PLUGIN_IMPORT', subject, 'entry',
        'has no entry module (package.json exports or main, or index.js|mjs|cjs|ts|mts|cts)')
    })
  }
  return candidates
}

/** The folder of package `name` as Node finds it from `base` (the node_modules folders it searches), if installed. */
export function findPackageDir (name: string, base: string): string | undefined {
  const paths = createRequire(join(base, 'noop.js')).resolve.paths(name) ?? []
  return paths.map((path) => join(path, name)).find((path) => existsSync(join(path, 'package.json')))
}

/** Package plugins, resolved from `base` through the node_modules folders Node would search. */
export function discoverPackages (names: string[], base: string): Candidate[] {
  return names.map((packageName): Candidate => {
    const subject: ErrorSubject = { package: packageName }
    // validForOldPackages: an installed package may predate today's rules (capitals, core module names).
    const { validForOldPackages, errors = [] } = validatePackageName(packageName)
    if (!validForOldPackages) {
      const detail = `is not a valid npm package name (${errors.join('; ')})`
      const error = kitError('PLUGINKIT_ERR_PLUGIN_IMPORT', subject, undefined, detail)
      return { source: 'package', dir: base, packageName, subject, error }
    }
    const dir = findPackageDir(packageName, base)
    if (dir === undefined) {
      const detail = `cannot be resolved from ${base}; is it installed?`
      const error = kitError('PLUGINKIT_ERR_PLUGIN_IMPORT', subject, undefined, detail)
      return { source: 'package', dir: base, packageName, subject, error }
    }
    try {
      const entry = entryOf(dir)
      if (entry === undefined) throw new Error('package has no entry module (exports, main or index.js)')
      return { source: 'package', dir, packageName, subject, entry }
    } catch (error) {
      const failure = kitError('PLUGINKIT_ERR_PLUGIN_IMPORT', subject, 'entry', describe(error), error)
      return { source: 'package', dir, packageName, subject, error: failure }
    }
  })
}

interface DiscoveryOptions extends
  Pick<ResolvedOptions, 'pluginsBase' | 'pluginPackages' | 'pluginDirs' | 'pluginsFolder' | 'pluginsFolderRequired'> {
  /** Installed packages (SPEC 11): they load after `pluginPackages`, before the local plugins. */
  installed?: Candidate[]
}

/**
 * Every candidate in discovery order (SPEC section 3): packages in the order given, then
 * `pluginDirs` in the order given, then the plugins folder's subfolders by name. A folder
 * that is both in `pluginDirs` and in the plugins folder is one plugin, at its first place.
 */
export async function discover (options: DiscoveryOptions): Promise<Candidate[]> {
  const all = [
    ...discoverPackages(options.pluginPackages, options.pluginsBase),
    ...options.installed ?? [],
    ...await discoverDirs(options.pluginDirs),
    ...options.pluginsFolder === undefined ? [] : await discoverLocal(options.pluginsFolder, options.pluginsFolderRequired)
  ]
  const folders = new Set<string>()
  return all.filter((candidate) => {
    if (candidate.source !== 'local') return true
    if (folders.has(candidate.dir)) return false
    folders.add(candidate.dir)
    return true
  })
}
