import type { PendingOperation } from '../types.js'
import type { Lockfile } from './lockfile.js'

/** What the lockfile on disk asks for that the lockfile this app booted with does not serve. */
export function pendingOperations (booted: Lockfile, current: Lockfile): PendingOperation[] {
  const names = [...new Set([...Object.keys(booted.plugins), ...Object.keys(current.plugins)])].sort()
  const pending: PendingOperation[] = []
  for (const name of names) {
    const before = booted.plugins[name]
    const after = current.plugins[name]
    if (after === undefined && before !== undefined) {
      pending.push({ action: 'uninstall', name, package: before.package, from: before.version })
    } else if (after !== undefined && before === undefined) {
      pending.push({ action: 'install', name, package: after.package, version: after.version })
    } else if (after !== undefined && before !== undefined && (after.version !== before.version || after.integrity !== before.integrity)) {
      pending.push({ action: 'upgrade', name, package: after.package, version: after.version, from: before.version })
    }
  }
  return pending
}
