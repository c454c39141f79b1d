import { randomBytes } from 'node:crypto'
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises'
import { dirname, basename, join } from 'node:path'
import { kitError, describe } from '../errors.js'
import type { PluginState, StateMap, StateStore } from '../types.js'

function isStateMap (value: unknown): value is StateMap {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false
  return Object.values(value).every((state) => state === 'enabled' || state === 'disabled')
}

/**
 * A JSON file `{ "<plugin>": "enabled" | "disabled" }`. Each save re-reads the file and
 * changes one key, so instances sharing the file do not undo each other's changes, and
 * writes a temporary file then renames it over the old one, so a crash never leaves a
 * half-written file. A corrupt file is reported, never overwritten.
 */
export class FileStore implements StateStore {
  readonly path: string
  #queue: Promise<unknown> = Promise.resolve()

  constructor (path: string) {
    this.path = path
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
    this.#queue = run.catch(() => {})
    return run
  }

  async #write (name: string, state: PluginState): Promise<void> {
    const states = await this.load()
    states[name] = state
    const temporary = join(dirname(this.path), `.${basename(this.path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`)
    try {
      await mkdir(dirname(this.path), { recursive: true })
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
