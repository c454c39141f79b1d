import { errorCodes, type FastifyError, type FastifyReply, type FastifyRequest } from 'fastify'
import type { AdminContext, AdminRoutes } from './admin.js'
import { failuresOf } from './admin-api.js'
import { refuseCrossSite } from './admin-csrf.js'
import { kitOf, operationsOf, readInstallSpec } from './admin-install.js'
import { checkHealth } from './health.js'
import { renderPage, type PageModel } from './admin-page.js'
import { readmeReader, type Readme } from './admin-readme.js'
import type { InstallSpec, PluginKit } from './types.js'

type Action = 'enable' | 'disable' | 'upgrade' | 'rollback' | 'uninstall' | 'install'
type Params = { name: string }

/** The fields of a form post (urlencoded); no body is no fields. Anything else is 415. */
function fields (request: FastifyRequest): URLSearchParams {
  if (request.body === undefined) return new URLSearchParams()
  if (request.body instanceof URLSearchParams) return request.body
  throw new errorCodes.FST_ERR_CTP_INVALID_MEDIA_TYPE(String(request.headers['content-type']))
}

/** What each form does; install operations exist only with the `install` option. */
type Run = (kit: PluginKit, context: AdminContext, name: string, form: URLSearchParams) => Promise<unknown>
const ACTIONS: Record<Exclude<Action, 'install'>, Run> = {
  enable: (_kit, { state }, name, form) => state.setState(name, 'enabled', { cascade: form.get('cascade') === '1' }),
  disable: (_kit, { state }, name, form) => state.setState(name, 'disabled', { cascade: form.get('cascade') === '1' }),
  upgrade: (kit, _context, name, form) => kit.upgrade(name, form.get('spec')?.trim() || undefined),
  rollback: (kit, _context, name) => kit.rollback(name),
  uninstall: (kit, _context, name, form) => kit.uninstall(name, { cascade: form.get('cascade') === '1' })
}

/** After a dependency conflict, the page offers the same action with `cascade`. */
const CASCADE_LABELS: Partial<Record<Action, (name: string) => string>> = {
  enable: (name) => `Enable ${name} and the plugins it depends on`,
  disable: (name) => `Disable ${name} and the plugins that depend on it`,
  uninstall: (name) => `Disable the plugins that depend on ${name}, then uninstall it`
}

/**
 * `GET {prefix}/`: the page, rendered on the server. Its controls are HTML forms posting to
 * `{prefix}/plugins/:name/<action>` and `{prefix}/install`, answered with a redirect to the
 * page (303) or, when the action fails, the page with the error at the error's status. Form
 * posts can be forged by other sites, so their context refuses cross-site ones (admin-csrf.ts).
 */
export const pageRoutes: AdminRoutes = async (instance, context) => {
  const { state, admin: { prefix }, install } = context
  const readme = readmeReader()

  async function model (request: FastifyRequest, notice?: PageModel['notice']): Promise<PageModel> {
    const plugins = state.records.map((record) => state.info(record.name))
    // At most 2 s (a hanging check), run while the readmes are read.
    const health = checkHealth(state.records)
    const readmes = new Map<string, Readme>()
    await Promise.all(plugins.map(async ({ name, dir, readmeFile }) => {
      if (readmeFile !== undefined) readmes.set(name, await readme(dir, readmeFile))
    }))
    const operations = install === undefined ? undefined : operationsOf(kitOf(request))
    const shown = { prefix, plugins, readmes, failures: failuresOf(state), health: await health }
    const reloadError = kitOf(request).reloadError
    return {
      ...shown,
      ...(operations && { operations }),
      ...(notice && { notice }),
      ...(reloadError && { reloadError: { code: reloadError.code, message: reloadError.message } })
    }
  }

  async function page (request: FastifyRequest, reply: FastifyReply, notice?: PageModel['notice']): Promise<FastifyReply> {
    const html = renderPage(await model(request, notice), reply.cspNonce)
    return reply.type('text/html; charset=utf-8').header('cache-control', 'no-store').send(html)
  }

  instance.get('/', async (request, reply) => page(request, reply))

  await instance.register(async function pluginKitAdminForms (forms) {
    forms.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 16 * 1024 },
      (_request, body, done) => { done(null, new URLSearchParams(body as string)) })
    forms.addHook('onRequest', async (request, reply) => {
      if (refuseCrossSite(request, reply)) return reply
    })
    // A failed form post shows the page again with the error, at the error's status.
    const failed = (action: Action) => async (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
      const statusCode = error.statusCode !== undefined && error.statusCode >= 400 ? error.statusCode : 500
      if (statusCode >= 500) request.log.error({ err: error }, 'fastify-pluginkit admin: %s', error.message)
      const name = (request.params as Partial<Params>).name
      const label = name === undefined ? undefined : CASCADE_LABELS[action]
      const cascaded = request.body instanceof URLSearchParams && request.body.get('cascade') === '1'
      const offer = error.code === 'PLUGINKIT_ERR_DEPENDENCY' && label !== undefined && name !== undefined && !cascaded
      const text = `${action}${name === undefined ? '' : ` ${name}`} failed (HTTP ${statusCode}): ${error.message}`
      reply.code(statusCode)
      return page(request, reply, { text, ...(offer && { cascade: { name, action, label: label(name) } }) })
    }

    const actions = (install === undefined ? ['enable', 'disable'] : Object.keys(ACTIONS)) as Array<keyof typeof ACTIONS>
    for (const action of actions) {
      forms.post<{ Params: Params }>(`/plugins/:name/${action}`, { errorHandler: failed(action) }, async (request, reply) => {
        await ACTIONS[action](kitOf(request), context, request.params.name, fields(request))
        return reply.redirect(`${prefix}/`, 303)
      })
    }
    if (install !== undefined) {
      forms.post('/install', { errorHandler: failed('install') }, async (request, reply) => {
        // The page's form is multipart (spec or file); a plain urlencoded `spec=` works too.
        const spec: InstallSpec | undefined = request.isMultipart() ? await readInstallSpec(request) : fields(request).get('spec')?.trim()
        if (spec === undefined || spec === '') throw new errorCodes.FST_ERR_VALIDATION('no package given: a spec or a tarball is required')
        await kitOf(request).install(spec)
        return reply.redirect(`${prefix}/`, 303)
      })
    }
  })
}
