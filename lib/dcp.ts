import { format } from 'node:util'
import { describe, invalidOption } from './errors.js'
import type { PluginRecord } from './record.js'
import type { DcpCallback, DcpPosition, PluginKit } from './types.js'
import { contribute, synchronous, type ErrorLog } from './contribute.js'

interface Entry {
  callback: DcpCallback
  /** The plugin that pushed it, when known, so that its failures count against that plugin. */
  owner: string | undefined
}

/** Where failing callbacks are reported (the kit's state satisfies it). */
export interface DcpReporting {
  log: ErrorLog
  byName: ReadonlyMap<string, PluginRecord>
}

export type Dcp = Pick<PluginKit, 'removeDcp' | 'emitDcp'> & {
  pushDcp (event: string, callback: DcpCallback, position?: DcpPosition, owner?: string): void
}

// Without the kit's logger, a failing callback is still reported, as a process warning.
const warnings: DcpReporting = {
  log: {
    error: (fields, message, ...args) => process.emitWarning(`${format(message, ...args)}: ${describe((fields as { err?: unknown }).err)}`)
  },
  byName: new Map()
}

function toText (result: unknown): string {
  const text = Array.isArray(result) ? result.join('') : result
  return text === undefined || text === null ? '' : String(text)
}

/**
 * Dynamic connection points: callbacks pushed at run time under an event name, whose
 * results `emitDcp` concatenates (Flask-PluginKit's push_dcp / emit_dcp). A callback that
 * throws is skipped like a failing `tep` contribution. Arrays are replaced, never
 * mutated, so a callback may push or remove callbacks while an event is emitted.
 */
export function createDcp (reporting: DcpReporting = warnings): Dcp {
  const events = new Map<string, Entry[]>()

  const checkEvent = (event: unknown) => {
    if (typeof event !== 'string' || event === '') throw invalidOption('dcp event', 'must be a non-empty string')
  }
  const checkCallback = (callback: unknown) => {
    if (typeof callback !== 'function') throw invalidOption('dcp callback', 'must be a function')
  }

  return {
    pushDcp (event, callback, position = 'right', owner) {
      checkEvent(event)
      checkCallback(callback)
      if (!['left', 'right', 'before', 'after'].includes(position)) {
        throw invalidOption('dcp position', 'must be "left", "right", "before" or "after"')
      }
      const entries = events.get(event) ?? []
      const entry = { callback, owner }
      events.set(event, position === 'left' || position === 'before' ? [entry, ...entries] : [...entries, entry])
    },
    removeDcp (event, callback) {
      checkEvent(event)
      checkCallback(callback)
      const entries = events.get(event) ?? []
      const index = entries.findIndex((entry) => entry.callback === callback)
      if (index === -1) return false
      // An emptied event is deleted: events are often one-off names (per user, per page).
      if (entries.length === 1) events.delete(event)
      else events.set(event, entries.filter((_, position) => position !== index))
      return true
    },
    emitDcp (event, ...args) {
      checkEvent(event)
      let html = ''
      for (const { callback, owner } of events.get(event) ?? []) {
        const record = owner === undefined ? undefined : reporting.byName.get(owner)
        const call = callback as (...values: unknown[]) => unknown
        html += contribute(reporting.log, record, 'dcp', event, '', () => toText(synchronous(call(...args))))
      }
      return html
    }
  }
}
