import { watch, type FSWatcher } from 'node:fs'
import { join, relative, sep } from 'node:path'
import type { FastifyBaseLogger } from 'fastify'
import { describe, isPluginKitError, kitError, type PluginKitError } from '../errors.js'
import { renew } from './generations.js'

/** What a reload did, per watched folder set; it outlives the swaps it causes. */
export interface ReloadStatus {
  reloads: number
  error: PluginKitError | undefined
}

const statuses = new Map<string, ReloadStatus>()

export function reloadStatus (key: string): ReloadStatus {
  let status = statuses.get(key)
  if (status === undefined) {
    status = { reloads: 0, error: undefined }
    statuses.set(key, status)
  }
  return status
}

export interface WatchInput {
  /** The local plugins folder (each subfolder a plugin), if any. */
  pluginsFolder: string | undefined
  /** Plugin folders given one by one. */
  pluginDirs: string[]
  debounceMs: number
  restart: () => Promise<void>
  log: FastifyBaseLogger
  status: ReloadStatus
}

/** Templates and static files are read on each request: an edit there needs no swap. */
function needsSwap (inPlugin: string): boolean {
  const parts = inPlugin.split(sep)
  return !['templates', 'static', 'node_modules'].includes(parts[0] ?? '') && !parts.some((part) => part.startsWith('.'))
}

/**
 * Watches the local plugins and swaps the app after an edit (SPEC 12): changes are collected
 * for `debounceMs` after the last one (an editor writing several files is one swap), the
 * edited plugins' modules are renewed, and `restart()` builds the new app. A failed reload
 * leaves the previous app serving and is reported; the next good one clears it.
 */
export function watchPlugins (input: WatchInput): () => void {
  const watchers: FSWatcher[] = []
  const edited = new Set<string>()
  let timer: NodeJS.Timeout | undefined
  let running: Promise<void> | undefined
  let again = false

  const reload = async (): Promise<void> => {
    const dirs = [...edited]
    edited.clear()
    try {
      await renew(dirs)
      await input.restart()
      input.status.reloads++
      input.status.error = undefined
      input.log.info({ plugins: dirs }, 'fastify-pluginkit: reloaded after an edit of %s', dirs.join(', '))
    } catch (error) {
      const failure = isPluginKitError(error)
        ? error
        : kitError('PLUGINKIT_ERR_PLUGIN_IMPORT', { dir: dirs[0] ?? '(plugins)' }, undefined, `reload failed: ${describe(error)}`, error)
      input.status.error = failure
      input.log.error({ err: failure, code: failure.code, plugin: failure.plugin ?? failure.dir ?? failure.package },
        'fastify-pluginkit: reload failed, the previous app keeps serving: %s', failure.message)
    }
  }
  const schedule = () => {
    clearTimeout(timer)
    timer = setTimeout(() => {
      // One reload at a time; edits made during one lead to one more.
      if (running !== undefined) {
        again = true
        return
      }
      running = reload().finally(() => {
        running = undefined
        if (again || edited.size > 0) {
          again = false
          schedule()
        }
      })
    }, input.debounceMs)
  }
  const onChange = (pluginDir: (file: string) => string | undefined) => (_event: string, file: string | Buffer | null) => {
    if (file === null) return
    const dir = pluginDir(file.toString())
    if (dir === undefined) return
    edited.add(dir)
    schedule()
  }

  // A folder that is not there (the default plugins folder may be absent) is not watched; boot
  // reports a missing plugin folder that it needs.
  const watchFolder = (folder: string, listener: (event: string, file: string | Buffer | null) => void) => {
    try {
      watchers.push(watch(folder, { recursive: true }, listener))
    } catch (error) {
      const code = (error as { code?: unknown }).code
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw error
      input.log.debug({ folder }, 'fastify-pluginkit: %s is not there, not watched', folder)
    }
  }
  if (input.pluginsFolder !== undefined) {
    const folder = input.pluginsFolder
    watchFolder(folder, onChange((file) => {
      const [name = ''] = file.split(sep)
      if (name === '' || name.startsWith('.') || name.startsWith('_') || name === 'node_modules') return undefined
      const inPlugin = file.split(sep).slice(1).join(sep)
      return inPlugin === '' || needsSwap(inPlugin) ? join(folder, name) : undefined
    }))
  }
  for (const dir of input.pluginDirs) {
    watchFolder(dir, onChange((file) => needsSwap(relative(dir, join(dir, file))) ? dir : undefined))
  }
  for (const watcher of watchers) {
    watcher.on('error', (error) => input.log.warn({ err: error }, 'fastify-pluginkit: watching plugins failed: %s', describe(error)))
    watcher.unref()
  }
  return () => {
    clearTimeout(timer)
    for (const watcher of watchers) watcher.close()
  }
}
