/// <reference types="@fastify/view" preserve="true" />
import fp from 'fastify-plugin'
import type { FastifyPluginAsync } from 'fastify'
import { definePlugin } from './define.js'
import { PluginKitError } from './errors.js'
import { FileStore } from './stores/file.js'
import { MemoryStore } from './stores/memory.js'
import { kitVersion } from './version.js'
import { preloadTypeBox } from './typebox-runtime.js'
import type { PluginKit, PluginKitOptions } from './types.js'

export { kitVersion }

declare module 'fastify' {
  interface FastifyInstance {
    pluginKit: PluginKit
  }
  interface FastifyReply {
    /** Template data of `reply.view`, starting from the plugins' context processors (with the `view` option). */
    locals: Record<string, unknown>
  }
}

/**
 * The pipeline is in `kit.ts`, imported on first registration. Every plugin imports
 * `definePlugin` from this module, and Node walks the whole static graph of a module's imports
 * again for each new module that imports it: with the kit's graph here (about 770 modules,
 * TypeBox's compiler among them) 1000 plugins took about 1.5 s longer to import.
 */
const plugin: FastifyPluginAsync<PluginKitOptions> = async function fastifyPluginKit (app, options) {
  const startedAt = performance.now()
  preloadTypeBox()
  const { bootKit } = await import('./kit.js')
  await bootKit(app, options, startedAt)
}

/** The Fastify plugin. */
export const pluginKit = fp(plugin, { name: 'fastify-pluginkit', fastify: '5.x' })

export { definePlugin, PluginKitError, MemoryStore, FileStore }
export type { PluginKitErrorCode } from './errors.js'
export type { FileStoreOptions } from './stores/file.js'
export type * from './types.js'
export type * from './manifest-types.js'
export default pluginKit

// CommonJS: require('fastify-pluginkit') returns the plugin itself, carrying the named
// exports (and itself as .default), like official Fastify plugins.
const commonjs = Object.assign(pluginKit, {
  default: pluginKit, pluginKit, definePlugin, PluginKitError, MemoryStore, FileStore, kitVersion
})
export { commonjs as 'module.exports' }
