import { Type } from 'typebox'
import { checker } from '../validation.js'
import { check, definePoint } from './point.js'

const shape = checker(Type.Object({}, { description: 'an object { key: value | (request) => value }' }))

/** Template context processors, merged into every `reply.view` (by views.ts). */
export const tcp = definePoint<Record<string, unknown>, Array<[string, unknown]>>({
  normalize (raw) {
    check(raw, shape, 'tcp')
    return Object.entries(raw as Record<string, unknown>)
  },
  empty: () => []
})
