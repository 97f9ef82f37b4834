/** Runs `work` alone across this browser's tabs of the app (Web Locks API, where present). */
export function withLock<T>(name: string, work: () => Promise<T>): Promise<T> {
  return navigator.locks ? (navigator.locks.request(name, work) as Promise<T>) : work();
}
