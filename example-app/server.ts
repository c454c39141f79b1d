import { restartable } from '@fastify/restartable'
import { buildExampleApp } from './app.ts'

// Under @fastify/restartable, installing, upgrading or removing a plugin from the admin builds a
// new app with the new plugin set and swaps it in while this process keeps serving.
const app = await restartable(async (fastify, serverOptions) => await buildExampleApp({ logger: serverOptions.logger }, fastify), {
  logger: true
})
await app.listen({ port: Number(process.env.PORT ?? 3000), host: process.env.HOST ?? '127.0.0.1' })

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    app.close().then(() => process.exit(0), () => process.exit(1))
  })
}
