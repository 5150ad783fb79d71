/**
 * How a volume is named in inputs: `id:<16 hex digits>` (by id only), `name:<name>` (by name only), or a
 * bare value (by name, and by id too when it is 16 hex digits: a name can look like another volume's id).
 */
export type VolumeRef = { readonly by: "id" | "name" | "either"; readonly value: string };

/** A PowerFlex volume id. */
export const VOLUME_ID = /^[0-9a-f]{16}$/i;

/** The reference, or why it is not one (an `id:` that is no volume id, an empty `name:`). */
export function parseVolumeRef(text: string): VolumeRef | { readonly problem: string } {
  if (text.startsWith("id:")) {
    const value = text.slice(3);
    return VOLUME_ID.test(value) ? { by: "id", value } : { problem: `"id:" must be followed by a volume id (16 hex digits)` };
  }
  if (text.startsWith("name:")) {
    const value = text.slice(5);
    return value ? { by: "name", value } : { problem: `"name:" must be followed by a volume name` };
  }
  return { by: VOLUME_ID.test(text) ? "either" : "name", value: text };
}
