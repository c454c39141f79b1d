import type { Static, TSchema } from 'typebox'
import type { ExtensionPoints } from './points/index.js'
import type { Awaitable, HealthCheckResult, PluginContext, PluginMetadata, PluginState } from './types.js'

// What a plugin author writes: the manifest and what `register` gets. Kept apart from
// types.ts, which every module reads, because it depends on the extension points' list.

export type {
  Blueprint, BlueprintEntry, ClassView, ControllerClass, DecoratorAccessor, DecoratorInitial, Decorators, ErrorClass, ErrorHandler,
  ExtensionPointKey, ExtensionPoints, ProvidedServices, RequestHooks, TemplateEntry, TemplateFilter, ViewRoute
} from './points/index.js'

type ConfigOf<Schema> = Schema extends TSchema ? Static<Schema> : Record<string, unknown>

/** A plugin's manifest: its default export, or its module namespace. */
export interface PluginManifest<Schema extends TSchema | undefined = TSchema | undefined> extends PluginMetadata {
  name: string
  version: string
  author: string
  /** Initial state when the store has none. Default `enabled`. */
  state?: PluginState
  /** Semver range the kit's own version must satisfy. */
  appVersion?: string
  /** Semver range the host's Fastify version must satisfy. */
  fastify?: string
  dependencies?: string[] | Record<string, string>
  configSchema?: Schema
  /**
   * Optional health check (SPEC 13), sync or async, within 2 s; called with the context
   * `register` got. `false`, `{ ok: false, detail }`, a throw or a timeout is unhealthy.
   */
  health? (ctx: PluginContext<ConfigOf<Schema>>): Awaitable<HealthCheckResult>
  register (ctx: PluginContext<ConfigOf<Schema>>): Awaitable<ExtensionPoints>
}
