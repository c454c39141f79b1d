/** Plugin names: letters, digits, `_` and `-`, starting with a letter or digit (SPEC section 4). */
export const NAME_PATTERN = '^[A-Za-z0-9][A-Za-z0-9_-]*$'

/** Prefixes and URL paths: start with `/`, no trailing `/`, no `//`, no whitespace (SPEC section 2). */
export const PREFIX_PATTERN = '^(/[^/\\s]+)+$'
export const PREFIX_DESCRIPTION = 'a path that starts with "/", does not end with "/" and has no "//" or spaces'
