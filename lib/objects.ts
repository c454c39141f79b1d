/** `map[key]` if it is the map's own property: a plugin named `constructor` must not read Object.prototype. */
export function own<T> (map: Readonly<Record<string, T>>, key: string): T | undefined {
  return Object.hasOwn(map, key) ? map[key] : undefined
}
