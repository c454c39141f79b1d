// The manifest's TypeBox schema (what the kit checks at boot) and the public PluginManifest
// type (what definePlugin accepts) must describe the same fields.
import type { Static } from 'typebox'
import { describe, expect, test } from 'tstyche'
import type { PluginInfo, PluginManifest } from 'fastify-pluginkit'
import type { ManifestSchema } from '../lib/manifest.js'
import type { MetadataSchema } from '../lib/metadata.js'

type Checked = Static<typeof ManifestSchema>
type Metadata = Static<typeof MetadataSchema>
// configSchema, health and register are functions and schemas, which JSON Schema only checks loosely.
type Plain = Exclude<keyof PluginManifest, 'configSchema' | 'health' | 'register'>

describe('the manifest schema and PluginManifest agree', () => {
  test('on the set of fields', () => {
    expect<keyof Checked>().type.toBe<keyof PluginManifest>()
  })

  test('on the type of every plain field, required and optional alike', () => {
    expect<Pick<Checked, Plain>>().type.toBe<Pick<PluginManifest, Plain>>()
    expect<Pick<PluginManifest, Plain>>().type.toBe<Pick<Checked, Plain>>()
  })

  test('on the metadata fields, which PluginInfo repeats as they are', () => {
    expect<Pick<PluginManifest, keyof Metadata>>().type.toBe<Metadata>()
    expect<Pick<PluginInfo, keyof Metadata>>().type.toBe<Metadata>()
    expect<Metadata>().type.toBe<{ description?: string, url?: string, license?: string, licenseFile?: string, readmeFile?: string }>()
  })
})
