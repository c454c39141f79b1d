import { existsSync, statSync } from 'node:fs'
import { isAbsolute, join, relative } from 'node:path'
import { Type } from 'typebox'
import { checker } from '../validation.js'
import { check, definePoint, ExtensionPointError, isObject } from './point.js'

export type TemplateEntry = string | { template?: string, code?: string, order?: number }

export interface TemplateContribution {
  /** A file of the plugin's templates folder (`file`: its absolute path), or an inline nunjucks snippet. */
  template?: string
  file?: string
  code?: string
  order: number
}

const entrySchema = checker(Type.Union([
  Type.String({ minLength: 1 }),
  Type.Object({
    template: Type.Optional(Type.String({ minLength: 1 })),
    code: Type.Optional(Type.String()),
    order: Type.Optional(Type.Number())
  }, { additionalProperties: false })
], { description: 'a template file name, an inline snippet, or { template?, code?, order? }' }))

const TEMPLATE_FILE = /\.(html|htm|xhtml|njk)$/

/** The template's absolute path, checked to exist inside `templatesDir`. */
function checkTemplateFile (template: string, templatesDir: string, field: string): string {
  const path = join(templatesDir, template)
  const inside = relative(templatesDir, path)
  let found = false
  try {
    found = !inside.startsWith('..') && !isAbsolute(inside) && existsSync(path) && statSync(path).isFile()
  } catch {}
  if (!found) throw new ExtensionPointError(field, `template ${template} is not in ${templatesDir}`, 'PLUGINKIT_ERR_TEMPLATE_NOT_FOUND')
  return path
}

function contribution (entry: unknown, field: string, templatesDir: string): TemplateContribution {
  check(entry, entrySchema, field)
  const normalized: TemplateContribution = typeof entry === 'string'
    ? (TEMPLATE_FILE.test(entry) ? { template: entry, order: 0 } : { code: entry, order: 0 })
    : { ...(entry as TemplateContribution), order: (entry as TemplateContribution).order ?? 0 }
  if ((normalized.template === undefined) === (normalized.code === undefined)) {
    throw new ExtensionPointError(field, 'needs exactly one of template or code')
  }
  return normalized.template === undefined
    ? normalized
    : { ...normalized, file: checkTemplateFile(normalized.template, templatesDir, field) }
}

/** Template slots: HTML contributed to the host's pages (rendered by views.ts). */
export const tep = definePoint<Record<string, TemplateEntry | TemplateEntry[]>, Map<string, TemplateContribution[]>>({
  normalize (raw, { dir }) {
    if (!isObject(raw)) throw new ExtensionPointError('tep', 'must be an object { slot: entry | entry[] }')
    const templatesDir = join(dir, 'templates')
    const slots = new Map<string, TemplateContribution[]>()
    for (const [slot, entries] of Object.entries(raw)) {
      const list = Array.isArray(entries) ? entries : [entries]
      const fieldOf = (index: number) => Array.isArray(entries) ? `tep.${slot}[${index}]` : `tep.${slot}`
      slots.set(slot, list.map((entry, index) => contribution(entry, fieldOf(index), templatesDir)))
    }
    return slots
  },
  empty: () => new Map()
})
