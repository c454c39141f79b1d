import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify'
import { describe, expect, test } from 'tstyche'
import {
  definePlugin, type Decorators, type ExtensionPoints, type PluginContext, type PluginKit, type PluginServices
} from 'fastify-pluginkit'

interface User { id: string, name: string }
interface AuthService { userFor (token: string): Promise<User | null> }

declare module 'fastify-pluginkit' {
  interface PluginServices {
    auth: AuthService
    clock: () => Date
  }
}

declare module 'fastify' {
  interface FastifyRequest { user: User | null }
}

const app = Fastify()
const authService: AuthService = { userFor: async (token) => token === 's3cret' ? { id: '1', name: 'ada' } : null }

describe('PluginServices, merged by a provider', () => {
  test('the host gets each service with its declared type', () => {
    expect(app.pluginKit.services.auth).type.toBe<AuthService>()
    expect(app.pluginKit.service('auth')).type.toBe<AuthService>()
    expect(app.pluginKit.service('clock')).type.toBe<() => Date>()
    expect<PluginKit['services']>().type.toBe<Readonly<PluginServices>>()
  })

  test('an undeclared service is a type error for the host', () => {
    expect(app.pluginKit.service).type.not.toBeCallableWith('nope')
    expect(app.pluginKit.service).type.not.toBeCallableWith(42)
    expect(app.pluginKit.services).type.not.toHaveProperty('nope')
  })

  test('services are read-only', () => {
    // @ts-expect-error: Cannot assign to 'auth' because it is a read-only property
    app.pluginKit.services.auth = authService
  })

  test('ctx.services in register has the declared types', () => {
    definePlugin({
      name: 'comments',
      version: '1.0.0',
      author: 'me',
      dependencies: ['auth'],
      register (ctx) {
        expect(ctx.services.auth).type.toBe<AuthService>()
        expect(ctx.services.auth.userFor('t')).type.toBe<Promise<User | null>>()
        expect(ctx.services).type.not.toHaveProperty('nope')
        expect(ctx).type.toBeAssignableTo<PluginContext>()
        return {}
      }
    })
  })
})

describe('definePlugin checks what a plugin provides', () => {
  const manifest = { name: 'auth', version: '1.0.0', author: 'me' }

  test('a provide value of the declared type is accepted', () => {
    expect(definePlugin).type.toBeCallableWith({ ...manifest, register: () => ({ provide: { auth: authService } }) })
    const both = { auth: authService, clock: () => new Date() }
    expect(definePlugin).type.toBeCallableWith({ ...manifest, register: async () => ({ provide: both }) })
    expect<ExtensionPoints>().type.toBeAssignableFrom({ provide: { clock: () => new Date(0) } })
  })

  test('a provide value of another shape is rejected', () => {
    expect(definePlugin).type.not.toBeCallableWith({ ...manifest, register: () => ({ provide: { auth: 'token' } }) })
    const wrongParameter = { userFor: (token: number) => token }
    expect(definePlugin).type.not.toBeCallableWith({ ...manifest, register: () => ({ provide: { auth: wrongParameter } }) })
    expect(definePlugin).type.not.toBeCallableWith({ ...manifest, register: () => ({ provide: { clock: () => 'now' } }) })
    expect<ExtensionPoints>().type.not.toBeAssignableFrom({ provide: { auth: { userFor: async () => 'ada' } } })
  })

  test('a service that is not declared is rejected', () => {
    expect<ExtensionPoints>().type.not.toBeAssignableFrom({ provide: { atuh: authService } })
    expect(definePlugin).type.not.toBeCallableWith({ ...manifest, register: () => ({ provide: { atuh: authService } }) })
  })
})

describe('decorate', () => {
  test('instance values, request and reply initial values, methods and getters', () => {
    expect<ExtensionPoints>().type.toBeAssignableFrom({
      decorate: {
        instance: { authRealm: 'demo', authConfig: { header: 'x-token' } },
        request: { user: null, isAdmin (this: FastifyRequest) { return this.user?.name === 'ada' } },
        reply: { sendUser (this: FastifyReply) { return this.send({ ok: true }) }, started: { getter: () => Date.now() } }
      }
    })
  })

  test('a shared object as a request or reply initial value is rejected', () => {
    expect<Decorators>().type.not.toBeAssignableFrom({ request: { user: { name: 'nobody' } } })
    expect<Decorators>().type.not.toBeAssignableFrom({ reply: { bag: [] } })
    expect<Decorators>().type.not.toBeAssignableFrom({ cookies: { user: null } })
  })
})
