import type { FastifyInstance } from 'fastify'
import { Type } from 'typebox'
import { describe, expect, test } from 'tstyche'
import { definePlugin, type PluginKit } from 'fastify-pluginkit'
import { buildHost, type BuildHostOptions } from 'fastify-pluginkit/testing'

describe('buildHost', () => {
  test('resolves to a Fastify instance with a typed pluginKit', async () => {
    expect(buildHost({ plugins: ['./plugins/hello'] })).type.toBe<Promise<FastifyInstance>>()
    const app = await buildHost({ plugins: ['./plugins/hello'] })
    expect(app.pluginKit).type.toBe<PluginKit>()
    expect(buildHost()).type.toBe<Promise<FastifyInstance>>()
  })

  test('accepts kit options, packages, Fastify options and a setup callback', () => {
    expect(buildHost).type.toBeCallableWith({
      plugins: ['./plugins/hello'],
      packages: ['fastify-pluginkit-demo'],
      pluginsBase: '/srv/app',
      view: { templates: 'templates' },
      config: { siteName: 'demo' },
      pluginConfig: { hello: { greeting: 'Hi' } },
      strict: false,
      store: 'memory',
      fastify: { logger: false, bodyLimit: 1024 },
      setup: (app: FastifyInstance) => { app.get('/', async () => 'host') }
    })
    expect<BuildHostOptions>().type.toBeAssignableFrom({ plugins: [] as string[], setup: async () => {} })
  })

  test('where plugins come from is its own business', () => {
    expect(buildHost).type.not.toBeCallableWith({ plugins: 'plugins/hello' })
    expect(buildHost).type.not.toBeCallableWith({ plugins: [], pluginsFolder: 'plugins' })
    expect(buildHost).type.not.toBeCallableWith({ plugins: [], pluginDirs: ['plugins/hello'] })
    expect(buildHost).type.not.toBeCallableWith({ plugins: [], pluginPackages: ['x'] })
    expect(buildHost).type.not.toBeCallableWith({ plugins: [], strict: 'yes' })
  })
})

describe('the plugin `fastify-pluginkit new` generates', () => {
  test('definePlugin infers ctx.config from its TypeBox configSchema', () => {
    definePlugin({
      name: 'hello',
      version: '0.1.0',
      author: 'me',
      configSchema: Type.Object({
        greeting: Type.String({ default: 'Hello from hello' })
      }),
      register (ctx) {
        expect(ctx.config).type.toBe<{ greeting: string }>()
        expect(ctx.config).type.not.toHaveProperty('greting')
        return {
          bep: {
            prefix: '/hello',
            async blueprint (app: FastifyInstance) {
              app.get('/', async () => ({ plugin: ctx.name, greeting: ctx.config.greeting }))
            }
          },
          tep: { footer: 'hello/panel.html' }
        }
      }
    })
  })
})
