import * as fs from "node:fs";
import * as path from "node:path";

/**
 * Relative links in markdown files, checked against a repository folder: each must name a file or folder
 * inside it, and an `#anchor` into a markdown file must name one of its headings. External links
 * (`https:`, `mailto:`) are not followed. Code (fenced blocks, `inline`) is not prose: links there are
 * ignored, as GitHub does.
 */

export interface LinkProblem {
  /** The markdown file, relative to the root. */
  readonly file: string;
  readonly line: number;
  readonly target: string;
  readonly reason: string;
}

/** `[text](target)` and `[text](target "title")`; the text may hold nested brackets (images). */
const LINK = /\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g;

/**
 * Markdown without code: fenced blocks become empty lines (line numbers stay), and inline code spans go
 * (or, with `keepInlineCode`, only their backticks: a heading's anchor keeps the code's text).
 */
function prose(text: string, keepInlineCode = false): string[] {
  let fence: string | undefined;
  return text.split("\n").map((line) => {
    const marker = /^\s*(`{3,}|~{3,})/.exec(line)?.[1];
    if (fence !== undefined) {
      if (marker !== undefined && marker[0] === fence[0] && marker.length >= fence.length) fence = undefined;
      return "";
    }
    if (marker !== undefined) {
      fence = marker;
      return "";
    }
    return line.replace(/(`+)([^`]*?)\1/g, (_, _ticks, code: string) => (keepInlineCode ? code : ""));
  });
}

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces to dashes; repeats get -1, -2. */
export function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const counts = new Map<string, number>();
  for (const line of prose(markdown, true)) {
    const m = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!m) continue;
    const base = m[1]
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, "")
      .replace(/\s/g, "-");
    const n = counts.get(base) ?? 0;
    counts.set(base, n + 1);
    anchors.add(n === 0 ? base : `${base}-${n}`);
  }
  return anchors;
}

function inside(root: string, target: string): boolean {
  const rel = path.relative(root, target);
  return rel === "" || (!rel.startsWith("..") && !path.isAbsolute(rel));
}

/** Every broken or escaping relative link in `files` (paths relative to `root`). */
export function checkLinks(root: string, files: readonly string[]): LinkProblem[] {
  const problems: LinkProblem[] = [];
  for (const file of files) {
    const abs = path.join(root, file);
    prose(fs.readFileSync(abs, "utf8")).forEach((line, i) => {
      for (const m of line.matchAll(LINK)) {
        const target = m[1];
        if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto:
        const report = (reason: string) => problems.push({ file, line: i + 1, target, reason });
        const [rawPath, anchor] = target.split("#", 2) as [string, string | undefined];
        const resolved = rawPath === "" ? abs : path.isAbsolute(rawPath) ? rawPath : path.resolve(path.dirname(abs), decodeURI(rawPath));
        if (path.isAbsolute(rawPath) || !inside(root, resolved)) {
          report("points outside the repository");
          continue;
        }
        if (!fs.existsSync(resolved)) {
          report("no such file or folder");
          continue;
        }
        if (anchor !== undefined && resolved.endsWith(".md") && !anchorsOf(fs.readFileSync(resolved, "utf8")).has(anchor)) {
          report(`no heading with anchor #${anchor}`);
        }
      }
    });
  }
  return problems;
}

/** Markdown files under `dir` (relative to `root`) named `name`, or all `.md` when `name` is undefined. */
export function markdownFiles(root: string, dir: string, options: { readonly name?: string; readonly recursive: boolean }): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    const abs = path.join(root, rel);
    if (!fs.existsSync(abs)) return;
    for (const e of fs.readdirSync(abs, { withFileTypes: true })) {
      const child = path.join(rel, e.name);
      if (e.isDirectory()) {
        if (options.recursive) walk(child);
      } else if (options.name === undefined ? e.name.endsWith(".md") : e.name === options.name) {
        out.push(child);
      }
    }
  };
  walk(dir);
  return out.sort();
}
