import type { PluginState, StateDetail, StateMap, StateStore } from '../types.js'

/** Keeps states (and quarantine records) in this process only; nothing survives a restart. */
export class MemoryStore implements StateStore {
  readonly #states: StateMap
  readonly #details = new Map<string, StateDetail>()

  constructor (initial: StateMap = {}) {
    this.#states = { ...initial }
  }

  async load (): Promise<StateMap> {
    return { ...this.#states }
  }

  async loadDetails (): Promise<Record<string, StateDetail>> {
    return Object.fromEntries([...this.#details].map(([name, detail]) => [name, structuredClone(detail)]))
  }

  async save (name: string, state: PluginState, detail?: StateDetail): Promise<void> {
    this.#states[name] = state
    // A save without detail (an enable, a plain disable) ends the quarantine record.
    if (detail?.quarantined === undefined) this.#details.delete(name)
    else this.#details.set(name, structuredClone(detail))
  }
}
