/**
 * HTML for the admin page. Plugin metadata is hostile (a manifest may hold markup, quotes or
 * a `javascript:` URL), so markup is only ever built with the `html` tag: every value put
 * into a template is escaped unless it is already `Html` made by this module.
 */
export class Html {
  constructor (readonly text: string) {}
  toString (): string {
    return this.text
  }
}

const entities: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }

/** Text as HTML text or a quoted attribute value (templates always quote attributes). */
export function escapeHtml (text: string): string {
  return text.replace(/[&<>"']/g, (character) => entities[character] as string)
}

function render (value: unknown): string {
  if (value instanceof Html) return value.text
  if (Array.isArray(value)) return value.map(render).join('')
  if (value === undefined || value === null || value === false) return ''
  return escapeHtml(String(value))
}

/** A template whose values are escaped (arrays are joined; undefined, null and false render nothing). */
export function html (strings: TemplateStringsArray, ...values: unknown[]): Html {
  let text = strings[0] as string
  values.forEach((value, index) => { text += render(value) + (strings[index + 1] as string) })
  return new Html(text)
}

/** Markup that is trusted as it is: the page's own CSS and script. */
export function trusted (text: string): Html {
  return new Html(text)
}

/** A link for an http(s) URL; anything else (`javascript:`, `data:`, relative paths) stays text. */
export function externalLink (url: string): Html {
  let parsed: URL | undefined
  try {
    parsed = new URL(url)
  } catch {}
  if (parsed === undefined || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')) return html`${url}`
  return html`<a href="${parsed.href}" rel="noopener noreferrer nofollow">${url}</a>`
}
