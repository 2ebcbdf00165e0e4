export default async function globalTeardown(): Promise<void> {
  for (const container of globalThis.__ZMIGRATE_CONTAINERS__ ?? []) await container.stop();
}
