import { createRequire } from 'node:module'
import { existsSync, readFileSync } from 'node:fs'
import { readdir, stat } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { exports as resolveExports } from 'resolve.exports'
import { kitError, describe, type PluginKitError } from './errors.js'

/** A folder that should hold one plugin, before it is imported. */
export interface Candidate {
  source: 'local' | 'package'
  /** The plugin's folder (for packages, the package folder). */
  dir: string
  packageName?: string
  /** How error messages name it until its manifest name is known. */
  label: string
  /** The module to import; undefined when `error` is set. */
  entry?: string
  /** Set when the candidate cannot even be resolved. */
  error?: PluginKitError
}

const PACKAGE_NAME = /^(@[a-z0-9-~][a-z0-9-._~]*\/)?[a-z0-9-~][a-z0-9-._~]*$/i
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

/** Local plugins: direct subfolders with an entry module, by name in code-point order. */
export async function discoverLocal (folder: string, required: boolean): Promise<Candidate[]> {
  if (!(await isDirectory(folder))) {
    if (!required) return []
    throw kitError('PLUGINKIT_ERR_PLUGINS_FOLDER', 'option pluginsFolder', undefined, `${folder} does not exist or is not a directory`)
  }
  const names = (await readdir(folder)).filter((name) => !name.startsWith('.') && !name.startsWith('_') && name !== 'node_modules')
  names.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
  const candidates: Candidate[] = []
  for (const name of names) {
    const dir = join(folder, name)
    if (!(await isDirectory(dir))) continue
    const label = `plugin folder "${dir}"`
    try {
      const entry = entryOf(dir)
      if (entry !== undefined) candidates.push({ source: 'local', dir, label, entry })
    } catch (error) {
      candidates.push({ source: 'local', dir, label, error: kitError('PLUGINKIT_ERR_PLUGIN_IMPORT', label, 'entry', describe(error), error) })
    }
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
    const label = `package "${packageName}"`
    if (!PACKAGE_NAME.test(packageName)) {
      return { source: 'package', dir: base, packageName, label, error: kitError('PLUGINKIT_ERR_PLUGIN_IMPORT', label, undefined, 'is not a valid npm package name') }
    }
    const dir = findPackageDir(packageName, base)
    if (dir === undefined) {
      return { source: 'package', dir: base, packageName, label, error: kitError('PLUGINKIT_ERR_PLUGIN_IMPORT', label, undefined, `cannot be resolved from ${base}; is it installed?`) }
    }
    try {
      const entry = entryOf(dir)
      if (entry === undefined) throw new Error('package has no entry module (exports, main or index.js)')
      return { source: 'package', dir, packageName, label, entry }
    } catch (error) {
      return { source: 'package', dir, packageName, label, error: kitError('PLUGINKIT_ERR_PLUGIN_IMPORT', label, 'entry', describe(error), error) }
    }
  })
}
