import { metadataOf, type CheckedManifest } from './manifest.js'
import type { Contributions } from './points/index.js'
import type { Stats } from './stats.js'
import type { PluginInfo } from './types.js'

/** One loaded plugin as the kit keeps it at run time. */
export interface PluginRecord {
  manifest: CheckedManifest
  name: string
  source: 'local' | 'package' | 'installed'
  packageName: string | undefined
  /** For an installed package: its tarball's integrity, as pinned in the lockfile. */
  integrity: string | undefined
  dir: string
  extensionPoints: string[]
  loadTimeMs: number
  contributions: Contributions
  enabled: boolean
  quarantined: { reason: string, at: string } | undefined
  stats: Stats
  /** Times of recent failures, for quarantine. */
  recentErrors: number[]
}

export function toInfo (record: PluginRecord): PluginInfo {
  const { manifest, stats } = record
  const info: PluginInfo = {
    name: record.name,
    version: manifest.version,
    author: manifest.author,
    ...metadataOf(manifest),
    state: record.enabled ? 'enabled' : 'disabled',
    source: record.source,
    dir: record.dir,
    dependencies: { ...manifest.dependencies },
    extensionPoints: [...record.extensionPoints],
    loadTimeMs: record.loadTimeMs,
    stats: {
      requests: stats.requests,
      hookCalls: stats.hookCalls,
      hookErrors: stats.hookErrors,
      meanHookMs: stats.sampledCalls === 0 ? 0 : stats.sampledMs / stats.sampledCalls
    }
  }
  if (record.packageName !== undefined) info.packageName = record.packageName
  if (record.integrity !== undefined) info.integrity = record.integrity
  if (record.quarantined !== undefined) info.quarantined = { ...record.quarantined }
  return info
}
