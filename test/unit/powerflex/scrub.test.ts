import { strict as assert } from "node:assert";
import { scrubSecrets } from "../../../provider/powerflex/rest/scrub";

describe("scrubSecrets", () => {
  const password = 'p@ss "wörd"/+1';

  it("takes out a held secret as is, base64, URL-encoded and JSON-escaped", () => {
    const echoes = [password, Buffer.from(`admin:${password}`).toString("base64"), encodeURIComponent(password), JSON.stringify({ password })];
    for (const echo of echoes) {
      const out = scrubSecrets(`echo: ${echo} end`, [password, `admin:${password}`]);
      assert.ok(!out.includes(echo), out);
      assert.match(out, /^echo: .*\[redacted\].* end$/);
    }
  });

  it("blanks any Basic or Bearer credential, held or not; leaves other text alone", () => {
    assert.equal(scrubSecrets("authorization: Bearer eyJhbGciOi.x-y_z and Basic Zm9vOmJhcg==", []), "authorization: Bearer [redacted] and Basic [redacted]");
    assert.equal(scrubSecrets("Could not find the volume", [password, undefined, "abc"]), "Could not find the volume");
  });
});
