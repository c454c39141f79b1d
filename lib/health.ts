import { describe } from './errors.js'
import { registerContextOf } from './manifest.js'
import type { PluginRecord } from './record.js'
import type { HealthReport, PluginHealth } from './types.js'

/** SPEC 13: each check gets 2 s. */
export const HEALTH_TIMEOUT_MS = 2000

class TimedOut {}

function text (detail: unknown): string {
  if (typeof detail === 'string') return detail
  try {
    return JSON.stringify(detail) ?? describe(detail)
  } catch {
    return describe(detail)
  }
}

/** `false`, `{ ok: false, detail }` is unhealthy; anything else (`true`, nothing, `{ ok: true }`) healthy. */
function verdict (result: unknown): { ok: boolean, detail?: string } {
  if (result === false) return { ok: false }
  if (result !== null && typeof result === 'object' && 'ok' in result) {
    const { ok, detail } = result as { ok: unknown, detail?: unknown }
    return { ok: ok !== false, ...(detail === undefined ? {} : { detail: text(detail) }) }
  }
  return { ok: true }
}

/**
 * One plugin's check: what it returns, throws or resolves to within the timeout. A check
 * that hangs is left running (a promise cannot be cancelled) and reported as timed out.
 */
async function checkOne (record: PluginRecord, timeoutMs: number): Promise<PluginHealth> {
  const health = record.manifest.health as NonNullable<PluginRecord['manifest']['health']>
  const context = registerContextOf(record.manifest)
  const started = performance.now()
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<TimedOut>((resolve) => { timer = setTimeout(() => resolve(new TimedOut()), timeoutMs) })
  try {
    // Called synchronously: a sync check's throw lands in the catch below like a rejection.
    const result = await Promise.race([health.call(record.manifest, context as NonNullable<typeof context>), late])
    const ms = performance.now() - started
    if (result instanceof TimedOut) return { ok: false, detail: `timed out after ${timeoutMs} ms`, ms }
    return { ...verdict(result), ms }
  } catch (error) {
    return { ok: false, detail: describe(error), ms: performance.now() - started }
  } finally {
    clearTimeout(timer)
  }
}

/** The checks of the enabled plugins that define `health`, run at once; `ok` only if every one is. */
export async function checkHealth (records: readonly PluginRecord[], timeoutMs = HEALTH_TIMEOUT_MS): Promise<HealthReport> {
  const checked = records.filter((record) => record.enabled && record.manifest.health !== undefined)
  const results = await Promise.all(checked.map((record) => checkOne(record, timeoutMs)))
  const plugins: Record<string, PluginHealth> = {}
  checked.forEach((record, index) => { plugins[record.name] = results[index] as PluginHealth })
  return { ok: results.every((result) => result.ok), plugins }
}
