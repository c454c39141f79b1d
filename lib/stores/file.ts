import { unwatchFile, watchFile } from 'node:fs'
import { mkdir, readdir, readlink, realpath, rm } from 'node:fs/promises'
import { basename, dirname, join, resolve } from 'node:path'
import { describe, wrapError } from '../errors.js'
import type { PluginState, QuarantineRecord, StateDetail, StateMap, StateStore } from '../types.js'
import { withLock } from './file-lock.js'
import { fileError, readCapped } from './file-read.js'

/** The key holding quarantine records; plugin names start with a letter or digit, so it is never one. */
const DETAILS_KEY = '$quarantined'

interface FileContent {
  states: StateMap
  details: Record<string, StateDetail>
}

function isRecord (value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
}

function isQuarantineRecord (value: unknown): value is QuarantineRecord {
  return isRecord(value) && typeof value.reason === 'string' && typeof value.at === 'string'
}

function parse (path: string, text: string): FileContent {
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (error) {
    throw fileError(path, `is not valid JSON (${describe(error)}); fix or remove it`, error)
  }
  const invalid = () => fileError(path, 'must be an object mapping plugin names to "enabled" or "disabled" ' +
    `(and "${DETAILS_KEY}" to quarantine records); fix or remove it`)
  if (!isRecord(parsed)) throw invalid()
  const content: FileContent = { states: {}, details: {} }
  for (const [name, value] of Object.entries(parsed)) {
    if (name === DETAILS_KEY) {
      if (!isRecord(value) || !Object.values(value).every(isQuarantineRecord)) throw invalid()
      for (const [plugin, quarantined] of Object.entries(value)) content.details[plugin] = { quarantined: quarantined as QuarantineRecord }
    } else if (value === 'enabled' || value === 'disabled') {
      content.states[name] = value
    } else {
      throw invalid()
    }
  }
  return content
}

function serialize ({ states, details }: FileContent): string {
  const quarantined = Object.fromEntries(Object.entries(details)
    .flatMap(([name, detail]) => detail.quarantined === undefined ? [] : [[name, detail.quarantined]]))
  // Without quarantine records the file stays the plain map older versions read.
  const json = Object.keys(quarantined).length === 0 ? states : { ...states, [DETAILS_KEY]: quarantined }
  return JSON.stringify(json, null, 2) + '\n'
}

/**
 * Where the state file really is: symbolic links followed, even to a file that does not
 * exist yet. Saves lock and replace that file, so a link (to a volume, say) stays a link.
 */
async function resolveTarget (path: string): Promise<string> {
  let current = resolve(path)
  for (let hops = 0; hops < 40; hops++) {
    let link: string
    try {
      link = await readlink(current)
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code
      // EINVAL: a file, not a link; ENOENT: nothing there yet. Either way, this is the file.
      if (code !== 'EINVAL' && code !== 'ENOENT') throw error
      const folder = await realpath(dirname(current)).catch(() => dirname(current))
      return join(folder, basename(current))
    }
    current = resolve(dirname(current), link)
  }
  throw new Error(`${path}: too many levels of symbolic links`)
}

export interface FileStoreOptions {
  /** How often to look at the file for changes made by other processes, in ms. Default 500. */
  interval?: number
}

type Listener = (name: string, state: PluginState, detail?: StateDetail) => void

/**
 * A JSON file `{ "<plugin>": "enabled" | "disabled", "$quarantined"?: { "<plugin>": { reason, at } } }`.
 * Each save takes `<file>.lock` (proper-lockfile), re-reads the file and changes one key, so
 * instances sharing the file do not undo each other's changes, and replaces the file
 * atomically (write-file-atomic: temporary file, fsync, rename), so a crash never leaves a
 * half-written file. Symbolic links are followed. A corrupt or oversized file is reported,
 * never overwritten. Processes sharing the file see each other's changes within about
 * `interval` ms.
 */
export class FileStore implements StateStore {
  readonly path: string
  readonly interval: number
  /** The tail of this process's saves (a new promise per save); it never rejects. */
  #queue: Promise<void> = Promise.resolve()
  #cleaned = false
  readonly #stops = new Set<() => void>()

  constructor (path: string, options: FileStoreOptions = {}) {
    this.path = path
    this.interval = options.interval ?? 500
  }

  async #read (): Promise<FileContent> {
    const text = await readCapped(this.path)
    return text === undefined ? { states: {}, details: {} } : parse(this.path, text)
  }

  async load (): Promise<StateMap> {
    return (await this.#read()).states
  }

  async loadDetails (): Promise<Record<string, StateDetail>> {
    return (await this.#read()).details
  }

  save (name: string, state: PluginState, detail?: StateDetail): Promise<void> {
    // Saves in this process run one at a time so none is lost.
    const run = this.#queue.then(() => this.#write(name, state, detail))
    this.#queue = run.then(() => {}, () => {})
    return run
  }

  /**
   * Watches the file (stat polling, which survives the rename of every save) and, each
   * time it changes, reports every plugin in it; the kit applies those whose state differs
   * from the one it runs with. The first look covers changes made between `load()` and
   * now. A plugin missing from the file keeps its state; an unreadable or corrupt file is
   * skipped until it is valid again.
   */
  subscribe (listener: Listener): () => void {
    let active = true
    let running = false
    let again = false
    const refresh = async (): Promise<void> => {
      // Read after our own saves, and drop a read that a new one overlapped (the queue moved
      // on): that file may be older than the state this process already runs with.
      const tail = this.#queue
      await tail
      let content: FileContent
      try {
        content = await this.#read()
      } catch {
        return
      }
      if (tail !== this.#queue) {
        again = true
        return
      }
      for (const [name, state] of Object.entries(content.states)) {
        if (!active) return
        listener(name, state, Object.hasOwn(content.details, name) ? content.details[name] : undefined)
      }
    }
    const look = () => {
      if (!active) return
      if (running) {
        again = true
        return
      }
      running = true
      again = false
      refresh().catch(() => {}).finally(() => {
        running = false
        if (again) look()
      })
    }
    watchFile(this.path, { interval: this.interval, persistent: false }, look)
    look()
    const stop = () => {
      active = false
      unwatchFile(this.path, look)
      this.#stops.delete(stop)
    }
    this.#stops.add(stop)
    return stop
  }

  async close (): Promise<void> {
    for (const stop of [...this.#stops]) stop()
  }

  async #write (name: string, state: PluginState, detail: StateDetail | undefined): Promise<void> {
    try {
      const target = await resolveTarget(this.path)
      await mkdir(dirname(target), { recursive: true })
      await withLock(target, async (assertHeld) => {
        if (!this.#cleaned) {
          this.#cleaned = true
          await this.#removeOrphans(target)
        }
        // Read through the link (the same file), so that errors name the path the store was given.
        const content = await this.#read()
        content.states[name] = state
        if (detail?.quarantined === undefined) delete content.details[name]
        else content.details[name] = { quarantined: { reason: detail.quarantined.reason, at: detail.quarantined.at } }
        assertHeld()
        // Imported on first save: the package entry (which every plugin imports) stays small.
        const { default: writeFileAtomic } = await import('write-file-atomic')
        await writeFileAtomic(target, serialize(content))
      })
    } catch (error) {
      throw wrapError(error, 'PLUGINKIT_ERR_STATE_STORE', { store: `state file ${this.path}` }, undefined, 'cannot be written: ')
    }
  }

  /**
   * Temporary files of processes killed mid-save (write-file-atomic names them
   * `<file>.<number>`). Run under the lock, when no other process is writing one.
   */
  async #removeOrphans (target: string): Promise<void> {
    const temporary = new RegExp(`^${basename(target).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\.\\d{5,10}$`)
    for (const file of await readdir(dirname(target))) {
      if (temporary.test(file)) await rm(join(dirname(target), file), { force: true })
    }
  }
}
