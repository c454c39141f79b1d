import { invalidOption } from './options.js'
import type { DcpCallback, DcpPosition, PluginKit } from './types.js'

/**
 * Dynamic connection points: callbacks pushed at run time under an event name, whose
 * results `emitDcp` concatenates (Flask-PluginKit's push_dcp / emit_dcp).
 */
export function createDcp (): Pick<PluginKit, 'pushDcp' | 'removeDcp' | 'emitDcp'> {
  const events = new Map<string, DcpCallback[]>()

  const checkEvent = (event: unknown) => {
    if (typeof event !== 'string' || event === '') throw invalidOption('dcp event', 'must be a non-empty string')
  }
  const checkCallback = (callback: unknown) => {
    if (typeof callback !== 'function') throw invalidOption('dcp callback', 'must be a function')
  }

  return {
    pushDcp (event, callback, position: DcpPosition = 'right') {
      checkEvent(event)
      checkCallback(callback)
      if (!['left', 'right', 'before', 'after'].includes(position)) throw invalidOption('dcp position', 'must be "left", "right", "before" or "after"')
      const callbacks = events.get(event) ?? []
      events.set(event, position === 'left' || position === 'before' ? [callback, ...callbacks] : [...callbacks, callback])
    },
    removeDcp (event, callback) {
      checkEvent(event)
      checkCallback(callback)
      const callbacks = events.get(event) ?? []
      const index = callbacks.indexOf(callback)
      if (index === -1) return false
      events.set(event, callbacks.filter((_, position) => position !== index))
      return true
    },
    emitDcp (event, ...args) {
      checkEvent(event)
      let html = ''
      for (const callback of events.get(event) ?? []) {
        const result = (callback as (...values: unknown[]) => unknown)(...args)
        const text = Array.isArray(result) ? result.join('') : result
        if (text !== undefined && text !== null && text !== '') html += String(text)
      }
      return html
    }
  }
}
