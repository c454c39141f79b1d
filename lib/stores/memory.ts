import type { PluginState, StateMap, StateStore } from '../types.js'

/** Keeps states in this process only; nothing survives a restart. */
export class MemoryStore implements StateStore {
  readonly #states: StateMap

  constructor (initial: StateMap = {}) {
    this.#states = { ...initial }
  }

  async load (): Promise<StateMap> {
    return { ...this.#states }
  }

  async save (name: string, state: PluginState): Promise<void> {
    this.#states[name] = state
  }
}
