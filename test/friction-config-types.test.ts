// ctx.config is typed from every kind of configSchema the kit accepts (issue #17, item 5):
// `npm run typecheck` checks the annotations and @ts-expect-error lines below; the test
// checks that the manifests are what definePlugin was given.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Type as Legacy } from '@sinclair/typebox'
import { Type } from 'typebox'
import { definePlugin } from 'fastify-pluginkit'

const fields = { version: '1.0.0', author: 'me' }

const legacy = definePlugin({
  name: 'legacy',
  ...fields,
  configSchema: Legacy.Object({ n: Legacy.Integer({ default: 5 }), label: Legacy.Optional(Legacy.String()) }),
  register (ctx) {
    const n: number = ctx.config.n
    const label: string | undefined = ctx.config.label
    // @ts-expect-error n is a number
    const wrong: string = ctx.config.n
    return { tcp: { n, label, wrong } }
  }
})

const current = definePlugin({
  name: 'current',
  ...fields,
  configSchema: Type.Object({ n: Type.Integer({ default: 5 }) }),
  register (ctx) {
    const n: number = ctx.config.n
    // @ts-expect-error no such key
    return { tcp: { n, typo: ctx.config.m } }
  }
})

const plain = definePlugin({
  name: 'plain',
  ...fields,
  configSchema: { type: 'object', properties: { n: { type: 'integer', default: 5 } }, required: ['n'] },
  register (ctx) {
    const n: number = ctx.config.n
    // @ts-expect-error no such key
    return { tcp: { n, typo: ctx.config.m } }
  }
})

test('definePlugin returns each manifest unchanged, whatever its configSchema is built with', () => {
  assert.deepEqual([legacy, current, plain].map((manifest) => [manifest.name, typeof manifest.register, manifest.configSchema?.type]),
    [['legacy', 'function', 'object'], ['current', 'function', 'object'], ['plain', 'function', 'object']])
})
