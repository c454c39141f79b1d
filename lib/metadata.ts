import { Type } from 'typebox'

export const Text = Type.String({ description: 'a string' })

/**
 * The optional descriptive fields, declared once: the manifest check, the checked manifest,
 * `PluginInfo` and the `PluginManifest` / `PluginInfo` types (`PluginMetadata`) all come from here.
 */
export const MetadataSchema = Type.Object({
  description: Type.Optional(Text),
  url: Type.Optional(Text),
  license: Type.Optional(Text),
  licenseFile: Type.Optional(Text),
  readmeFile: Type.Optional(Text)
})
