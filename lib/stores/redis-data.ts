import type { PluginState, QuarantineRecord, StateDetail, StateMap } from '../types.js'

/** A change as published on the store's channel. */
export interface Change {
  name: string
  state: PluginState
  detail?: StateDetail
  origin?: string
  /** Set by saves, so that the echo of a save that failed here can be recognised. */
  id?: string
}

function isState (value: unknown): value is PluginState {
  return value === 'enabled' || value === 'disabled'
}

function isQuarantineRecord (value: unknown): value is QuarantineRecord {
  const record = value as { reason?: unknown, at?: unknown } | null
  return typeof record === 'object' && record !== null && typeof record.reason === 'string' && typeof record.at === 'string'
}

/** A stored or published detail, or undefined when it is absent or malformed. */
function toDetail (value: unknown): StateDetail | undefined {
  const quarantined = (value as { quarantined?: unknown } | null)?.quarantined
  return isQuarantineRecord(quarantined) ? { quarantined: { reason: quarantined.reason, at: quarantined.at } } : undefined
}

export function parseChange (message: string): Change | undefined {
  try {
    const { name, state, detail, origin, id } = JSON.parse(message) as Record<string, unknown>
    if (typeof name !== 'string' || !isState(state)) return undefined
    return {
      name,
      state,
      detail: toDetail(detail),
      origin: typeof origin === 'string' ? origin : undefined,
      id: typeof id === 'string' ? id : undefined
    }
  } catch {
    return undefined
  }
}

export function parseDetails (hash: Record<string, string>): Record<string, StateDetail> {
  const details: Record<string, StateDetail> = {}
  for (const [name, json] of Object.entries(hash)) {
    try {
      const detail = toDetail(JSON.parse(json))
      if (detail !== undefined) details[name] = detail
    } catch {}
  }
  return details
}

export function parseStates (hash: Record<string, string>): StateMap {
  const states: StateMap = {}
  for (const [name, state] of Object.entries(hash)) if (isState(state)) states[name] = state
  return states
}
