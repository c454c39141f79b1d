import semver from 'semver'
import { kitError, type PluginKitError } from './errors.js'

export interface Orderable {
  name: string
  version: string
  dependencies: Record<string, string>
}

export interface OrderResult<T> {
  /** Dependencies before their dependents; otherwise the input order is kept. */
  ordered: T[]
  /** Plugins whose dependencies are missing, out of range, cyclic or failed themselves, in input order. */
  failed: Array<{ plugin: T, error: PluginKitError }>
}

/**
 * Stable topological sort by `dependencies`. Each plugin is placed right after the
 * last of its dependencies has been placed, depth first, so plugins without
 * dependencies keep the input order (packages, then local folders alphabetically).
 */
export function orderByDependencies<T extends Orderable> (plugins: T[]): OrderResult<T> {
  const byName = new Map(plugins.map((plugin) => [plugin.name, plugin]))
  const position = new Map(plugins.map((plugin, index) => [plugin.name, index]))
  const errors = new Map<string, PluginKitError>()
  const fail = (plugin: T, field: string, detail: string) => {
    if (!errors.has(plugin.name)) errors.set(plugin.name, kitError('PLUGINKIT_ERR_DEPENDENCY', { plugin: plugin.name }, field, detail))
  }

  for (const plugin of plugins) {
    for (const [name, range] of Object.entries(plugin.dependencies)) {
      const dependency = byName.get(name)
      if (dependency === undefined) fail(plugin, `dependencies.${name}`, `requires plugin "${name}", which is not installed`)
      else if (!semver.satisfies(dependency.version, range, { includePrerelease: true })) {
        fail(plugin, `dependencies.${name}`, `requires "${name}" ${range}, but version ${dependency.version} is installed`)
      }
    }
  }

  const sortedDeps = (plugin: T) => Object.keys(plugin.dependencies)
    .filter((name) => byName.has(name))
    .sort((a, b) => (position.get(a) as number) - (position.get(b) as number))

  // Cycles: depth-first search with the current path on a stack.
  const state = new Map<string, 'visiting' | 'done'>()
  const visit = (plugin: T, path: string[]) => {
    state.set(plugin.name, 'visiting')
    for (const name of sortedDeps(plugin)) {
      const dependency = byName.get(name) as T
      const seen = state.get(name)
      if (seen === 'visiting') {
        const cycle = [...path.slice(path.indexOf(name)), name].join(' -> ')
        for (const member of path.slice(path.indexOf(name))) fail(byName.get(member) as T, 'dependencies', `dependency cycle: ${cycle}`)
      } else if (seen === undefined) visit(dependency, [...path, name])
    }
    state.set(plugin.name, 'done')
  }
  for (const plugin of plugins) if (!state.has(plugin.name)) visit(plugin, [plugin.name])

  // A plugin whose dependency failed fails too.
  let changed = true
  while (changed) {
    changed = false
    for (const plugin of plugins) {
      if (errors.has(plugin.name)) continue
      const broken = Object.keys(plugin.dependencies).find((name) => errors.has(name))
      if (broken !== undefined) {
        fail(plugin, `dependencies.${broken}`, `requires plugin "${broken}", which failed to load`)
        changed = true
      }
    }
  }

  const ordered: T[] = []
  const placed = new Set<string>()
  const place = (plugin: T) => {
    if (placed.has(plugin.name)) return
    placed.add(plugin.name)
    for (const name of sortedDeps(plugin)) place(byName.get(name) as T)
    ordered.push(plugin)
  }
  for (const plugin of plugins) if (!errors.has(plugin.name)) place(plugin)

  return {
    ordered,
    failed: plugins.filter((plugin) => errors.has(plugin.name))
      .map((plugin) => ({ plugin, error: errors.get(plugin.name) as PluginKitError }))
  }
}
