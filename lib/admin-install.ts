import multipart from '@fastify/multipart'
import { Type } from 'typebox'
import { errorCodes, type FastifyReply, type FastifyRequest } from 'fastify'
import type { AdminRoutes } from './admin.js'
import { mediaType, requireJson, ToggleBody, unsupportedMediaType } from './admin-api.js'
import { refuseCrossSite } from './admin-csrf.js'
import type { InstallResult, InstallSpec, PluginKit } from './types.js'
import { checker } from './validation.js'

const Spec = Type.String({ minLength: 1, maxLength: 1024, description: 'an npm spec such as "name", "name@1.2.3" or "name@^1.2.0"' })
const InstallBody = checker(Type.Object({ spec: Spec }, { additionalProperties: false, description: 'a JSON object { "spec": string }' }))
const UpgradeBody = Type.Object({ spec: Type.Optional(Spec) },
  { additionalProperties: false, description: 'a JSON object { "spec"?: string }' })
const EmptyBody = Type.Object({}, { additionalProperties: false, description: 'an empty JSON object' })

/** A bad request body: 400, with the code of Fastify's own validation errors. */
function invalid (message: string): Error {
  return new errorCodes.FST_ERR_VALIDATION(message)
}

/** The kit of the app that routed the request (under @fastify/restartable, the app serving now). */
export function kitOf (request: FastifyRequest): PluginKit {
  return request.server.pluginKit
}

/** What the API answers for an install, upgrade or rollback: the contract's fields, nothing else. */
export function installAnswer ({ plugin, activated }: InstallResult): InstallResult {
  return { plugin, activated }
}

/** `operation`, `pending` and `syncError` of the install API, as JSON. */
export function operationsOf (kit: PluginKit) {
  const { operation, pending, syncError } = kit
  return {
    operation: operation ?? null,
    pending,
    syncError: syncError === undefined ? null : { code: syncError.code, message: syncError.message }
  }
}

/**
 * The package to install from a multipart body: a `tarball` file (an `npm pack` tarball) or a
 * `spec` field (the page's form has both; one must be filled in). The size limit is
 * @fastify/multipart's `fileSize`, enforced while reading (413).
 */
async function fromMultipart (request: FastifyRequest): Promise<InstallSpec> {
  let spec: string | undefined
  let tarball: Buffer | undefined
  for await (const part of request.parts()) {
    if (part.type === 'file') {
      const data = await part.toBuffer()
      if (part.fieldname !== 'tarball') throw invalid(`multipart file field "${part.fieldname}" is not known: send the package as tarball`)
      // A form posted with no file chosen sends an empty part without a file name.
      if (part.filename !== '' || data.length > 0) tarball = data
    } else if (part.fieldname === 'spec') {
      const value = typeof part.value === 'string' ? part.value.trim() : ''
      if (part.valueTruncated || value.length > 1024) throw invalid('spec is too long')
      spec = value === '' ? undefined : value
    } else {
      throw invalid(`multipart field "${part.fieldname}" is not known: expected "tarball" or "spec"`)
    }
  }
  if (tarball !== undefined && spec !== undefined) throw invalid('give either a package spec or a tarball, not both')
  if (tarball !== undefined) return { tarball }
  if (spec !== undefined) return spec
  throw invalid('no package given: a "tarball" file or a "spec" field is required')
}

/** The package to install from a JSON `{ spec }` or a multipart body. */
export async function readInstallSpec (request: FastifyRequest): Promise<InstallSpec> {
  if (request.isMultipart()) return fromMultipart(request)
  const problem = InstallBody.problem(request.body)
  if (problem !== undefined) throw invalid(`body${problem.path === '' ? '' : `.${problem.path}`} ${problem.message}`)
  return (request.body as { spec: string }).spec
}

/** JSON, or multipart from the admin's own origin: a cross-site form can send multipart (admin-csrf.ts). */
async function jsonOrMultipart (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> {
  const type = mediaType(request)
  if (type === 'multipart/form-data') return refuseCrossSite(request, reply) ? reply : undefined
  if (type !== 'application/json') return unsupportedMediaType(reply, 'application/json or multipart/form-data')
}

/** A DELETE may have no body at all; a body must be JSON. */
async function jsonOrNothing (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> {
  if (request.headers['content-type'] === undefined && request.body === undefined) request.body = {}
  else return requireJson(request, reply)
}

/**
 * SPEC section 11 "Admin", with the `install` option: install, upgrade, roll back and remove
 * plugin packages, and the progress of the running operation. The routes only call
 * `app.pluginKit`; its errors carry their status (400 bad spec, 403 not allowed, 404 unknown,
 * 409 conflict, 413 too large, 422 invalid plugin or integrity, 502 registry) and code.
 */
export const installRoutes: AdminRoutes = async (instance, { install }) => {
  if (install === undefined) return
  // In the admin's context only: the host's own routes never parse multipart because of the kit.
  await instance.register(multipart, {
    throwFileSizeLimit: true,
    limits: { fileSize: install.maxTarballBytes, files: 1, fields: 2, parts: 3, fieldSize: 2048, headerPairs: 100 }
  })

  instance.post('/api/install', { preValidation: jsonOrMultipart }, async (request) =>
    installAnswer(await kitOf(request).install(await readInstallSpec(request))))

  instance.post<{ Params: { name: string }, Body: { spec?: string } }>('/api/plugins/:name/upgrade', {
    schema: { body: UpgradeBody }, preValidation: requireJson
  }, async (request) => installAnswer(await kitOf(request).upgrade(request.params.name, request.body.spec)))

  instance.post<{ Params: { name: string } }>('/api/plugins/:name/rollback', {
    schema: { body: EmptyBody }, preValidation: requireJson
  }, async (request) => installAnswer(await kitOf(request).rollback(request.params.name)))

  instance.delete<{ Params: { name: string }, Body: { cascade?: boolean } }>('/api/plugins/:name', {
    schema: { body: ToggleBody }, preValidation: jsonOrNothing
  }, async (request) => {
    const { activated } = await kitOf(request).uninstall(request.params.name, { cascade: request.body.cascade === true })
    return { activated }
  })

  instance.get('/api/operations', async (request) => operationsOf(kitOf(request)))
}
