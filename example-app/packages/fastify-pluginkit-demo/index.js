// A fastify-pluginkit plugin shipped as an npm package. Plain JavaScript with no
// dependencies, so it works as published; the host lists it in `pluginPackages`.

async function blueprint (app) {
  app.get('/hello', async (request) => ({ plugin: 'demo', hello: request.query.name ?? 'world' }))
}

export default {
  name: 'demo',
  version: '1.0.0',
  author: 'fastify-pluginkit',
  description: 'A JSON API under /demo-api and a page footer',
  license: 'MIT',
  register (ctx) {
    ctx.log.debug('demo plugin registered')
    return {
      bep: { blueprint, prefix: '/demo-api' },
      tep: { footer: 'demo/footer.html' },
      tcp: { visitorNote: (request) => `Rendered for ${request.ip} by the demo plugin's context processor.` }
    }
  }
}
