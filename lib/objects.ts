/** `map[key]` if it is the map's own property: a plugin named `constructor` must not read Object.prototype. */
export function own<T> (map: Readonly<Record<string, T>>, key: string): T | undefined {
  return Object.hasOwn(map, key) ? map[key] : undefined
}

/**
 * A copy of `value` in which every plain object and array is new (config defaults are written
 * into them, never into the caller's), everything else (class instances, functions, dates)
 * shared: what TypeBox's `Value.Clone` does for a config, which keeps class instances too.
 * Written here because loading TypeBox's value module costs ~95 ms of every boot.
 */
export function cloneData<T> (value: T): T {
  if (Array.isArray(value)) return value.map(cloneData) as T
  if (value === null || typeof value !== 'object') return value
  const prototype = Object.getPrototypeOf(value) as unknown
  if (prototype !== Object.prototype && prototype !== null) return value
  const copy: Record<string, unknown> = {}
  for (const [key, item] of Object.entries(value)) {
    // Assigning `__proto__` would replace the copy's prototype, not add a key.
    const property = { value: cloneData(item), enumerable: true, writable: true, configurable: true }
    if (key === '__proto__') Object.defineProperty(copy, key, property)
    else copy[key] = property.value
  }
  return copy as T
}
