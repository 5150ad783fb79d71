/**
 * Parse a controller address as sysfs writes it (`traddr=…,trsvcid=…[,host_traddr=…][,host_iface=…]
 * [,src_addr=…]`) or as nvme-cli 1.x prints it (the same with spaces instead of commas). No value
 * contains a comma or a space (IPv6 addresses only add colons), so both separators can be split at once.
 * Pieces without `=` are ignored; the first `=` separates key from value.
 */
export function parseSysfsAddress(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const piece of text.trim().split(/[,\s]+/)) {
    const eq = piece.indexOf("=");
    if (eq <= 0) continue;
    out[piece.slice(0, eq)] = piece.slice(eq + 1);
  }
  return out;
}
