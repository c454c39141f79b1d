import { lstatSync, readdirSync, watch, type FSWatcher } from 'node:fs'
import { basename, join, relative, sep } from 'node:path'
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
  restart: () => Promise<boolean>
  log: FastifyBaseLogger
  status: ReloadStatus
}

/**
 * Templates and static files are read on each request: an edit there needs no swap. The
 * folders themselves do: whether a plugin has them is read at boot (the template search
 * path, the static roots).
 */
function needsSwap (inPlugin: string): boolean {
  if (inPlugin === 'templates' || inPlugin === 'static') return true
  const parts = inPlugin.split(sep)
  return !['templates', 'static', 'node_modules'].includes(parts[0] ?? '') && !parts.some((part) => part.startsWith('.'))
}

/**
 * Node's recursive fs.watch on Linux (Node 20 and 22) loses a file once an editor saves it
 * atomically (a new file renamed over it, as vim, sed -i or a "safe write" do): later edits of
 * that file are never reported. A plain watcher per directory reports every change to the
 * entries in it, whatever file now has the name; so on Linux the kit watches each directory
 * (dot folders and node_modules left out, like the edits that need no swap), adding the ones
 * created later and dropping removed ones. Elsewhere the native recursive watcher is used.
 * `onFile` gets paths relative to `root`. Throws like fs.watch when `root` cannot be watched.
 */
function watchTree (root: string, onFile: (file: string) => void, onError: (error: Error) => void): () => void {
  if (process.platform !== 'linux') {
    const watcher = watch(root, { recursive: true }, (_event, file) => { if (file !== null) onFile(file.toString()) })
    watcher.on('error', onError)
    watcher.unref()
    return () => watcher.close()
  }
  const watchers = new Map<string, FSWatcher>()
  const skipped = (name: string) => name.startsWith('.') || name === 'node_modules'
  const drop = (dir: string) => {
    for (const [watched, watcher] of watchers) {
      if (watched === dir || watched.startsWith(dir + sep)) {
        watcher.close()
        watchers.delete(watched)
      }
    }
  }
  const add = (dir: string) => {
    if (watchers.has(dir)) return
    let watcher: FSWatcher
    try {
      watcher = watch(dir, (event, name) => {
        const path = name === null ? dir : join(dir, name.toString())
        // An entry appeared, went or was renamed: a new directory is watched, a removed one let go.
        if (event === 'rename' && path !== dir) track(path)
        onFile(relative(root, path))
      })
    } catch (error) {
      if (dir === root) throw error
      return // gone again before it could be watched
    }
    watcher.on('error', (error) => {
      drop(dir)
      if (dir === root) onError(error)
    })
    watcher.unref()
    watchers.set(dir, watcher)
    let entries: string[] = []
    try {
      entries = readdirSync(dir, { withFileTypes: true }).filter((entry) => entry.isDirectory() && !skipped(entry.name))
        .map((entry) => entry.name)
    } catch {
      // Removed meanwhile: its parent reports it.
    }
    for (const entry of entries) add(join(dir, entry))
  }
  const track = (path: string) => {
    let directory = false
    try {
      directory = lstatSync(path).isDirectory()
    } catch {
      // Gone.
    }
    if (directory && !skipped(basename(path))) add(path)
    else drop(path)
  }
  add(root)
  return () => {
    for (const watcher of watchers.values()) watcher.close()
    watchers.clear()
  }
}

/**
 * Watches the local plugins and swaps the app after an edit (SPEC 12): changes are collected
 * for `debounceMs` after the last one (an editor writing several files is one swap), the
 * edited plugins' modules are renewed, and `restart()` builds the new app. A failed reload
 * leaves the previous app serving and is reported; the next good one clears it.
 */
export function watchPlugins (input: WatchInput): () => void {
  const closers: Array<() => void> = []
  const edited = new Set<string>()
  let timer: NodeJS.Timeout | undefined
  let running: Promise<void> | undefined
  let again = false
  let stopped = false

  const reload = async (): Promise<void> => {
    const dirs = [...edited]
    edited.clear()
    try {
      await renew(dirs)
      if (!(await input.restart())) return // the app closed meanwhile
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
    if (stopped) return
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
  const onChange = (pluginDir: (file: string) => string | undefined) => (file: string) => {
    const dir = pluginDir(file)
    if (dir === undefined) return
    edited.add(dir)
    schedule()
  }
  const onError = (error: Error) => input.log.warn({ err: error }, 'fastify-pluginkit: watching plugins failed: %s', describe(error))

  // A folder that is not there (the default plugins folder may be absent) is not watched; boot
  // reports a missing plugin folder that it needs.
  const watchFolder = (folder: string, onFile: (file: string) => void) => {
    try {
      closers.push(watchTree(folder, onFile, onError))
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
  return () => {
    stopped = true
    clearTimeout(timer)
    for (const close of closers) close()
  }
}
