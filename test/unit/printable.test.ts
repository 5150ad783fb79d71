import { strict as assert } from "node:assert";
import { printable } from "../../provider/printable";

describe("printable", () => {
  it("escapes ESC sequences, newlines and other controls visibly; plain text stays as it is", () => {
    assert.equal(printable("sdt\u001b[2J\nfake row\r\t\u0000\u007f\u009b"), "sdt\\x1b[2J\\nfake row\\r\\t\\x00\\x7f\\x9b");
    assert.equal(printable("payroll-db (ünïcode ok) 10.0.0.1:4420"), "payroll-db (ünïcode ok) 10.0.0.1:4420");
  });

  it("escapes bidi overrides and line separators that reorder or break a terminal line", () => {
    assert.equal(printable("a\u202eb\u2028c"), "a\\u{202e}b\\u{2028}c");
  });

  it("is idempotent: escaping twice changes nothing more", () => {
    const once = printable("x\u001b[31my\n");
    assert.equal(printable(once), once);
  });
});
