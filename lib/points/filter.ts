import { definePoint, ExtensionPointError, isObject } from './point.js'

export type TemplateFilter = (...args: never[]) => unknown

/** nunjucks filters, `{ name: fn }` or an array of named functions / `[name, fn]` (added by views.ts; not gated). */
export const filter = definePoint<
  Record<string, TemplateFilter> | Array<TemplateFilter | [string, TemplateFilter]>,
  Array<[string, TemplateFilter]>
>({
  normalize (raw) {
    if (isObject(raw)) {
      return Object.entries(raw).map(([name, fn]) => {
        if (typeof fn !== 'function') throw new ExtensionPointError(`filter.${name}`, 'must be a function')
        return [name, fn as TemplateFilter]
      })
    }
    if (!Array.isArray(raw)) throw new ExtensionPointError('filter', 'must be an object { name: fn } or an array of fn / [name, fn]')
    return raw.map((entry: unknown, index): [string, TemplateFilter] => {
      if (typeof entry === 'function' && entry.name !== '') return [entry.name, entry as TemplateFilter]
      if (Array.isArray(entry) && entry.length === 2 && typeof entry[0] === 'string' && entry[0] !== '' && typeof entry[1] === 'function') {
        return [entry[0], entry[1] as TemplateFilter]
      }
      throw new ExtensionPointError(`filter[${index}]`, 'must be a named function or a [name, function] pair')
    })
  },
  empty: () => []
})
