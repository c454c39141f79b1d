import { Type } from 'typebox'
import { describe, kitError, PluginKitError } from '../errors.js'
import { checker } from '../validation.js'
import { check, definePoint } from './point.js'

export type P3Transforms = Record<string, Partial<Record<string, (value: unknown) => unknown>>>

const Fn = Type.Function([], Type.Unknown(), { description: 'a function' })
const shape = checker(Type.Record(Type.String(),
  Type.Record(Type.String(), Fn, { description: 'an object { extensionPoint: (value) => value }' }),
  { description: 'an object { targetPlugin: { extensionPoint: (value) => value } }' }))

/** Pre-processing of other plugins' values, applied once at boot (boot.ts: `applyP3`). */
export const p3 = definePoint<P3Transforms, Record<string, Record<string, (value: unknown) => unknown>>>({
  normalize (raw) {
    check(raw, shape, 'p3')
    return raw as Record<string, Record<string, (value: unknown) => unknown>>
  },
  empty: () => ({})
})

/** What applying p3 needs of the kit: the plugins, and a way to drop a source whose transform failed. */
interface P3Host {
  records: ReadonlyArray<{
    name: string
    dir: string
    enabled: boolean
    extensionPoints: string[]
    contributions: { p3: Record<string, Record<string, (value: unknown) => unknown>> }
  }>
  byName: ReadonlyMap<string, P3Host['records'][number]>
}

/**
 * After every plugin registered, each enabled plugin's transforms rewrite another enabled
 * plugin's values; the target is normalised again (`normalize`). A transform that throws or
 * produces a malformed value is its source's fault: `drop(source, error)`, target unchanged.
 */
export function applyP3<C> (
  host: P3Host,
  raws: Map<string, Record<string, unknown>>,
  normalize: (raw: Record<string, unknown>, source: { plugin: string, dir: string }) => C,
  replace: (target: string, contributions: C) => void,
  drop: (source: string, error: PluginKitError) => void
): void {
  for (const source of [...host.records]) {
    for (const [target, transforms] of Object.entries(source.contributions.p3)) {
      const record = host.byName.get(target)
      const raw = raws.get(target)
      if (record === undefined || raw === undefined || !source.enabled || !record.enabled) continue
      const next = { ...raw }
      try {
        for (const [key, transform] of Object.entries(transforms)) next[key] = transform(next[key])
        replace(target, normalize(next, { plugin: target, dir: record.dir }))
      } catch (error) {
        const detail = error instanceof PluginKitError
          ? `made ${error.field ?? 'it'} invalid: ${error.detail ?? error.message}`
          : `threw: ${describe(error)}`
        drop(source.name, kitError('PLUGINKIT_ERR_EXTENSION_POINT', { plugin: source.name }, `p3.${target}`, detail, error))
        continue
      }
      record.extensionPoints = Object.keys(next).filter((key) => next[key] !== undefined)
      raws.set(target, next)
    }
  }
}
