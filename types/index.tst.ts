import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import { Type } from 'typebox'
import { describe, expect, test } from 'tstyche'
import pluginKit, {
  definePlugin,
  FileStore,
  kitVersion,
  MemoryStore,
  PluginKitError,
  type ExtensionPoints,
  type PluginContext,
  type PluginInfo,
  type PluginKit,
  type PluginKitErrorCode,
  type PluginKitOptions,
  type PluginManifest,
  type RequestHooks,
  type StateStore
} from 'fastify-pluginkit'

const app = Fastify()

describe('declaration merging', () => {
  test('app.pluginKit is a PluginKit once the package is imported', () => {
    expect(app.pluginKit).type.toBe<PluginKit>()
    expect<FastifyInstance>().type.toHaveProperty('pluginKit')
  })

  test('enable and disable resolve to PluginInfo', () => {
    expect(app.pluginKit.enable('helloworld')).type.toBe<Promise<PluginInfo>>()
    expect(app.pluginKit.disable('helloworld', { cascade: true })).type.toBe<Promise<PluginInfo>>()
    expect(app.pluginKit.enable).type.not.toBeCallableWith('helloworld', { cascade: 'yes' })
    expect(app.pluginKit.get('helloworld')).type.toBe<PluginInfo>()
    expect(app.pluginKit.plugins).type.toBe<PluginInfo[]>()
    expect<PluginInfo['state']>().type.toBe<'enabled' | 'disabled'>()
    expect<PluginInfo['source']>().type.toBe<'local' | 'package' | 'installed'>()
  })

  test('template helpers return strings', () => {
    expect(app.pluginKit.emitTep('footer')).type.toBe<string>()
    expect(app.pluginKit.emit_assets('theme', 'theme.css', { raw: true })).type.toBe<string>()
    expect(app.pluginKit.emitDcp('event', 1, 2)).type.toBe<string>()
    expect(app.pluginKit.removeDcp('event', () => 'x')).type.toBe<boolean>()
    expect(app.pluginKit.pushDcp).type.not.toBeCallableWith('event', () => 'x', 'middle')
  })
})

describe('registering the kit', () => {
  test('valid options are accepted', () => {
    expect(app.register).type.toBeCallableWith(pluginKit, {
      pluginsBase: '/srv/app',
      pluginsFolder: 'plugins',
      pluginPackages: ['fastify-pluginkit-demo'],
      staticUrlPath: '/assets',
      view: { templates: ['templates'], options: { autoescape: true } },
      config: { whoami: 'demo' },
      pluginConfig: { helloworld: { limitIp: '127.0.0.1' } },
      store: 'memory',
      strict: true,
      loadTimeout: 10000,
      quarantine: { maxErrors: 20, windowMs: 60000 },
      admin: { prefix: '/pluginkit', authorize: (request: FastifyRequest) => request.headers['x-admin'] === 's3cret' }
    })
    expect(app.register).type.toBeCallableWith(pluginKit)
    expect(app.register).type.toBeCallableWith(pluginKit, { store: { file: 'state.json' } })
    expect(app.register).type.toBeCallableWith(pluginKit, { store: new MemoryStore() })
    expect(app.register).type.toBeCallableWith(pluginKit, { store: new FileStore('/tmp/state.json') })
    expect(app.register).type.toBeCallableWith(pluginKit, { pluginDirs: ['vendor/audit', '/opt/plugins/sso'], pluginsFolder: false })
  })

  test('wrong options are rejected', () => {
    expect(app.register).type.not.toBeCallableWith(pluginKit, { strict: 'yes' })
    expect(app.register).type.not.toBeCallableWith(pluginKit, { pluginPackages: 'fastify-pluginkit-demo' })
    expect(app.register).type.not.toBeCallableWith(pluginKit, { pluginDirs: 'vendor/audit' })
    expect(app.register).type.not.toBeCallableWith(pluginKit, { pluginsFolder: true })
    expect(app.register).type.not.toBeCallableWith(pluginKit, { store: 'redis' })
    expect(app.register).type.not.toBeCallableWith(pluginKit, { store: { load: async () => ({}) } })
    expect(app.register).type.not.toBeCallableWith(pluginKit, { admin: { prefix: '/pluginkit' } })
    expect(app.register).type.not.toBeCallableWith(pluginKit, { quarantine: { maxErrors: 3 } })
    expect(app.register).type.not.toBeCallableWith(pluginKit, { loadTimeout: '10s' })
  })

  test('a custom store implements StateStore', () => {
    const store: StateStore = {
      load: async () => ({ helloworld: 'disabled' }),
      save: async () => {}
    }
    expect<PluginKitOptions>().type.toBeAssignableFrom({ store })
    expect<StateStore>().type.not.toBeAssignableFrom({ load: async () => ({ helloworld: 'off' }), save: async () => {} })
  })
})

describe('definePlugin', () => {
  test('ctx.config is inferred from a TypeBox configSchema', () => {
    definePlugin({
      name: 'helloworld',
      version: '0.1.0',
      author: 'staugur',
      configSchema: Type.Object({
        limitIp: Type.String({ default: '127.0.0.1' }),
        retries: Type.Optional(Type.Integer())
      }),
      register (ctx) {
        expect(ctx.config.limitIp).type.toBe<string>()
        expect(ctx.config.retries).type.toBe<number | undefined>()
        expect(ctx.config).type.not.toHaveProperty('limitIP')
        // @ts-expect-error: Property 'limitIP' does not exist
        ctx.config.limitIP.toUpperCase()
        expect(ctx.kit).type.toBe<PluginKit>()
        expect(ctx.dir).type.toBe<string>()
        return {}
      }
    })
  })

  test('without a configSchema ctx.config is a plain record', () => {
    definePlugin({
      name: 'plain',
      version: '1.0.0',
      author: 'me',
      register (ctx) {
        expect(ctx).type.toBe<PluginContext<Record<string, unknown>>>()
        return {}
      }
    })
  })

  test('the manifest is returned with its schema type', () => {
    const schema = Type.Object({ greeting: Type.String() })
    const manifest = definePlugin({ name: 'typed', version: '1.0.0', author: 'me', configSchema: schema, register: () => ({}) })
    expect(manifest).type.toBe<PluginManifest<typeof schema>>()
  })

  test('required manifest fields and register\'s return type are checked', () => {
    expect(definePlugin).type.not.toBeCallableWith({ name: 'x', version: '1.0.0', register: () => ({}) })
    expect(definePlugin).type.not.toBeCallableWith({ name: 'x', version: '1.0.0', author: 'me' })
    expect(definePlugin).type.not.toBeCallableWith({ name: 'x', version: '1.0.0', author: 'me', state: 'on', register: () => ({}) })
    expect(definePlugin).type.not.toBeCallableWith({ name: 'x', version: '1.0.0', author: 'me', register: () => 'nothing' })
    expect(definePlugin).type.toBeCallableWith({ name: 'x', version: '1.0.0', author: 'me', register: async () => ({}) })
  })
})

describe('extension points', () => {
  test('hep handlers receive FastifyRequest and FastifyReply', () => {
    expect<NonNullable<RequestHooks['before_request']>>().type.toBe<(request: FastifyRequest, reply: FastifyReply) => unknown>()
    type AfterRequest = (request: FastifyRequest, reply: FastifyReply, payload: unknown) => unknown
    expect<NonNullable<RequestHooks['after_request']>>().type.toBe<AfterRequest>()
    expect<NonNullable<RequestHooks['teardown_request']>>().type.toBe<(request: FastifyRequest, reply: FastifyReply) => unknown>()

    definePlugin({
      name: 'hooks',
      version: '1.0.0',
      author: 'me',
      register: () => ({
        hep: {
          before_request (request, reply) {
            expect(request).type.toBe<FastifyRequest>()
            expect(reply).type.toBe<FastifyReply>()
            return request.url === '/' ? reply.redirect('/limit') : undefined
          },
          after_request (_request, _reply, payload) {
            expect(payload).type.toBe<unknown>()
            return payload
          }
        }
      })
    })
  })

  test('the shapes of bep, tep, filter, tcp and errhandler', () => {
    expect<ExtensionPoints>().type.toBeAssignableFrom({
      bep: { blueprint: async (instance: FastifyInstance) => { instance.get('/', async () => 'hi') }, prefix: '/hello' },
      tep: { base_head: "{{ emit_assets('theme', 'theme.css') }}", footer: [{ template: 'theme/footer.html', order: 1 }] },
      filter: { shout: (text: string) => text.toUpperCase() },
      tcp: { siteName: 'demo', ip: (request: FastifyRequest) => request.ip },
      errhandler: { 404: (_error: Error, _request: FastifyRequest, reply: FastifyReply) => reply.code(404).send('gone') },
      vep: { method: 'GET', url: '/ping', handler: async () => 'pong' },
      cvep: { controller: class Users { index () { return [] } }, prefix: '/users' }
    })
    expect<ExtensionPoints>().type.not.toBeAssignableFrom({ bep: { prefix: '/hello' } })
    expect<ExtensionPoints>().type.not.toBeAssignableFrom({ tep: { footer: 42 } })
    expect<ExtensionPoints>().type.not.toBeAssignableFrom({ hep: { before_request: 'redirect' } })
  })
})

describe('named exports', () => {
  test('errors, stores and the version', () => {
    expect(kitVersion).type.toBe<string>()
    expect(new PluginKitError('x')).type.toBeAssignableTo<Error>()
    expect<PluginKitError['code']>().type.toBe<PluginKitErrorCode>()
    expect<'PLUGINKIT_ERR_NOT_FOUND'>().type.toBeAssignableTo<PluginKitErrorCode>()
    expect(new MemoryStore()).type.toBeAssignableTo<StateStore>()
    expect(new FileStore('/tmp/state.json')).type.toBeAssignableTo<StateStore>()
    const listener = (name: string, state: 'enabled' | 'disabled') => console.log(name, state)
    expect(new FileStore('/tmp/state.json', { interval: 100 }).subscribe).type.toBeCallableWith(listener)
    expect(FileStore).type.not.toBeConstructableWith('/tmp/state.json', { interval: '100' })
  })
})
