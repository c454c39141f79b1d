import { randomBytes } from 'node:crypto'
import { unwatchFile, watchFile } from 'node:fs'
import { mkdir, open, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises'
import { dirname, basename, join } from 'node:path'
import { kitError, describe } from '../errors.js'
import type { PluginState, StateMap, StateStore } from '../types.js'

function isStateMap (value: unknown): value is StateMap {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false
  return Object.values(value).every((state) => state === 'enabled' || state === 'disabled')
}

function isAlive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/**
 * Holds `<file>.lock` (created exclusively, holding our pid) while `work` runs, so that
 * processes sharing the state file change it one at a time. A lock whose process is gone
 * (killed mid-save) is taken over at once; one older than `staleMs` is taken over too.
 */
async function withLock<T> (path: string, work: () => Promise<T>, staleMs = 10000): Promise<T> {
  const lock = `${path}.lock`
  for (let attempt = 0; ; attempt++) {
    try {
      await writeFile(lock, String(process.pid), { flag: 'wx' })
      break
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
      const holder = Number.parseInt(await readFile(lock, 'utf8').catch(() => ''), 10)
      const age = await stat(lock).then((info) => Date.now() - info.mtimeMs, () => 0)
      if ((Number.isInteger(holder) && holder > 0 && !isAlive(holder)) || age > staleMs) {
        await rm(lock, { force: true })
        continue
      }
      if (attempt > 2000) throw new Error(`${lock} is held by process ${holder}`)
      await new Promise((resolve) => setTimeout(resolve, 2 + Math.random() * 8))
    }
  }
  try {
    return await work()
  } finally {
    await rm(lock, { force: true })
  }
}

export interface FileStoreOptions {
  /** How often to look at the file for changes made by other processes, in ms. Default 500. */
  interval?: number
}

type Listener = (name: string, state: PluginState) => void

/**
 * A JSON file `{ "<plugin>": "enabled" | "disabled" }`. Each save takes a lock file,
 * re-reads the file and changes one key, so instances sharing the file do not undo each
 * other's changes, and writes a temporary file then renames it over the old one, so a
 * crash never leaves a half-written file. A corrupt file is reported, never overwritten.
 * Processes sharing the file see each other's changes within about `interval` ms.
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

  async load (): Promise<StateMap> {
    let text: string
    try {
      text = await readFile(this.path, 'utf8')
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {}
      throw kitError('PLUGINKIT_ERR_STATE_STORE', `state file ${this.path}`, undefined, `cannot be read: ${describe(error)}`, error)
    }
    let parsed: unknown
    try {
      parsed = JSON.parse(text)
    } catch (error) {
      throw kitError('PLUGINKIT_ERR_STATE_STORE', `state file ${this.path}`, undefined, `is not valid JSON (${describe(error)}); fix or remove it`, error)
    }
    if (!isStateMap(parsed)) {
      throw kitError('PLUGINKIT_ERR_STATE_STORE', `state file ${this.path}`, undefined, 'must be an object mapping plugin names to "enabled" or "disabled"; fix or remove it')
    }
    return parsed
  }

  save (name: string, state: PluginState): Promise<void> {
    // Saves in this process run one at a time so none is lost.
    const run = this.#queue.then(() => this.#write(name, state))
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
      let states: StateMap
      try {
        states = await this.load()
      } catch {
        return
      }
      if (tail !== this.#queue) {
        again = true
        return
      }
      for (const [name, state] of Object.entries(states)) {
        if (!active) return
        listener(name, state)
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

  async #write (name: string, state: PluginState): Promise<void> {
    try {
      await mkdir(dirname(this.path), { recursive: true })
      await withLock(this.path, () => this.#replace(name, state))
    } catch (error) {
      if ((error as { code?: unknown }).code === 'PLUGINKIT_ERR_STATE_STORE') throw error
      throw kitError('PLUGINKIT_ERR_STATE_STORE', `state file ${this.path}`, undefined, `cannot be written: ${describe(error)}`, error)
    }
  }

  /** Temporary files of processes killed mid-save (their pid is gone); checked on the first save. */
  async #removeOrphans (): Promise<void> {
    const prefix = `.${basename(this.path)}.`
    for (const file of await readdir(dirname(this.path))) {
      const pid = Number.parseInt(file.slice(prefix.length), 10)
      if (file.startsWith(prefix) && file.endsWith('.tmp') && pid > 0 && pid !== process.pid && !isAlive(pid)) {
        await rm(join(dirname(this.path), file), { force: true })
      }
    }
  }

  async #replace (name: string, state: PluginState): Promise<void> {
    if (!this.#cleaned) {
      this.#cleaned = true
      await this.#removeOrphans()
    }
    const states = await this.load()
    states[name] = state
    const temporary = join(dirname(this.path), `.${basename(this.path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`)
    try {
      const handle = await open(temporary, 'w')
      try {
        await handle.writeFile(JSON.stringify(states, null, 2) + '\n')
        await handle.sync()
      } finally {
        await handle.close()
      }
      await rename(temporary, this.path)
    } catch (error) {
      await rm(temporary, { force: true })
      throw kitError('PLUGINKIT_ERR_STATE_STORE', `state file ${this.path}`, undefined, `cannot be written: ${describe(error)}`, error)
    }
  }
}
