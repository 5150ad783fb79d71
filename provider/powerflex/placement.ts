import { PowerFlexError, type PowerFlexClient, type ProtectionDomain, type System } from ".";

/**
 * The system and protection domain an attachment names, looked up once per gateway client for a minute.
 * They do not change during a `pulumi up`, yet every resource the provider process serves would ask again
 * (two of the four GETs a create made). SDTs are never cached here: preview must see one added or removed.
 */

export interface Placement {
  readonly system: System;
  readonly protectionDomain: ProtectionDomain;
}

const TTL_MS = 60_000;

interface Entry {
  readonly at: number;
  readonly placement: Promise<Placement>;
}

const cache = new WeakMap<PowerFlexClient, Map<string, Entry>>();

export function placementOf(client: PowerFlexClient, systemId: string | undefined, protectionDomain: string, now: () => number = Date.now): Promise<Placement> {
  let entries = cache.get(client);
  if (!entries) cache.set(client, (entries = new Map()));
  const key = JSON.stringify([systemId ?? null, protectionDomain]);
  const hit = entries.get(key);
  if (hit && now() - hit.at < TTL_MS) return hit.placement;
  const placement = (async () => {
    const system = await client.getSystem(systemId).catch(naming("system"));
    return { system, protectionDomain: await client.getProtectionDomain(protectionDomain, system.id).catch(naming("protectionDomain")) };
  })();
  const entry = { at: now(), placement };
  entries.set(key, entry);
  // A failed lookup is not remembered: the next caller asks the gateway again.
  placement.catch(() => {
    if (entries.get(key) === entry) entries.delete(key);
  });
  return placement;
}

/** Prefix a not-found error with the input that named the missing object (once: the promise is shared). */
function naming(field: string) {
  return (err: unknown): never => {
    if (err instanceof PowerFlexError && err.kind === "notFound") err.message = `${field}: ${err.message}`;
    throw err;
  };
}
