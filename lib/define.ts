import type { TSchema } from 'typebox'
import type { PluginManifest } from './manifest-types.js'

/**
 * Returns the manifest unchanged; it exists for typing: `ctx.config` in `register` is
 * inferred from `configSchema` (TypeBox 1.x or 0.34, or a plain JSON Schema object literal).
 */
export function definePlugin<const Schema extends TSchema | undefined = undefined> (
  manifest: PluginManifest<Schema>
): PluginManifest<Schema> {
  return manifest
}
