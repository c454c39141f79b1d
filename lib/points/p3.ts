import { Type } from 'typebox'
import { checker } from '../validation.js'
import { check, definePoint } from './point.js'

export type P3Transforms = Record<string, Partial<Record<string, (value: unknown) => unknown>>>

const Fn = Type.Function([], Type.Unknown(), { description: 'a function' })
const shape = checker(Type.Record(Type.String(), Type.Record(Type.String(), Fn, { description: 'an object { extensionPoint: (value) => value }' }),
  { description: 'an object { targetPlugin: { extensionPoint: (value) => value } }' }))

/** Pre-processing of other plugins' values, applied once at boot (boot.ts: `applyP3`). */
export const p3 = definePoint<P3Transforms, Record<string, Record<string, (value: unknown) => unknown>>>({
  normalize (raw) {
    check(raw, shape, 'p3')
    return raw as Record<string, Record<string, (value: unknown) => unknown>>
  },
  empty: () => ({})
})
