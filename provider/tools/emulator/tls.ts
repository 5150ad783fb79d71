import { generate } from "selfsigned";

/** A CA and a server certificate it signed, PEM. */
export interface TlsMaterial {
  /** CA certificate (what clients pass as caCert). */
  caCert: string;
  /** Server certificate for 127.0.0.1, ::1 and localhost. */
  cert: string;
  /** Server private key. */
  key: string;
}

/**
 * A throw-away CA and a server certificate for the loopback names, made at start. EC P-256 keys: RSA
 * generation in pure JS takes seconds, and tests start emulators often.
 */
export async function makeTlsMaterial(): Promise<TlsMaterial> {
  const notBeforeDate = new Date(Date.now() - 60_000);
  const notAfterDate = new Date(Date.now() + 7 * 24 * 3600_000);
  const ca = await generate([{ name: "commonName", value: "powerflex-nvme emulator CA" }], {
    keyType: "ec",
    algorithm: "sha256",
    notBeforeDate,
    notAfterDate,
    extensions: [
      { name: "basicConstraints", cA: true, critical: true },
      { name: "keyUsage", keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    ],
  });
  const server = await generate([{ name: "commonName", value: "localhost" }], {
    keyType: "ec",
    algorithm: "sha256",
    notBeforeDate,
    notAfterDate,
    ca: { key: ca.private, cert: ca.cert },
    extensions: [
      { name: "basicConstraints", cA: false },
      { name: "keyUsage", digitalSignature: true, keyEncipherment: true },
      { name: "extKeyUsage", serverAuth: true },
      {
        name: "subjectAltName",
        altNames: [
          { type: 2, value: "localhost" },
          { type: 7, ip: "127.0.0.1" },
          { type: 7, ip: "::1" },
        ],
      },
    ],
  });
  return { caCert: ca.cert, cert: server.cert, key: server.private };
}
