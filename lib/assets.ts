import { kitError } from './errors.js'

// `\\`, `?`, `#` and `%` would change what the URL means; control characters belong in no file name.
const NOT_IN_ASSET_PATH = /[\\?#%\p{Cc}]/u

/**
 * `file` is a path the static route serves: inside `static/` (no `.`/`..` segments, no
 * leading `/`), no dotfiles (never served), and a URL path that means the same.
 */
function isAssetPath (file: unknown): file is string {
  return typeof file === 'string' && !NOT_IN_ASSET_PATH.test(file) &&
    file.split('/').every((segment) => segment !== '' && !segment.startsWith('.'))
}

function escapeAttribute (value: string): string {
  return value.replaceAll('&', '&amp;').replaceAll('"', '&quot;').replaceAll('<', '&lt;').replaceAll('>', '&gt;')
}

const ASSET_PATH_RULE = 'must be a relative path inside the plugin\'s static folder: segments separated by "/", ' +
  'none empty or starting with ".", and no "\\", "?", "#", "%" or control characters'

/** `emit_assets` takes only a path the static route serves: PLUGINKIT_ERR_INVALID_OPTION otherwise. */
export function checkAssetPath (plugin: string, file: unknown): asserts file is string {
  if (!isAssetPath(file)) {
    throw kitError('PLUGINKIT_ERR_INVALID_OPTION', { plugin }, 'emit_assets', `file ${JSON.stringify(file)} ${ASSET_PATH_RULE}`)
  }
}

/** What `emit_assets` gives for `file` at `url`: a stylesheet or script tag, else (or with `raw`) the URL itself. */
export function assetMarkup (url: string, file: string, raw: boolean): string {
  if (raw) return url
  if (file.endsWith('.css')) return `<link rel="stylesheet" href="${escapeAttribute(url)}">`
  if (file.endsWith('.js')) return `<script src="${escapeAttribute(url)}"></script>`
  return url
}
