// Parse Mermaid diagrams with Mermaid's own parser (under jsdom, no browser), for tests/diff/test_mermaid.py.
// Reads a JSON list of diagram texts on stdin; writes a JSON list of {ok, diagramType | error}, one per diagram.
import { JSDOM } from "jsdom";

const dom = new JSDOM("<!DOCTYPE html><body></body>");
globalThis.window = dom.window;
globalThis.document = dom.window.document;
const { default: mermaid } = await import("mermaid");

let input = "";
for await (const chunk of process.stdin) input += chunk;
const results = [];
for (const text of JSON.parse(input)) {
  try {
    const parsed = await mermaid.parse(text);
    results.push({ ok: true, diagramType: parsed.diagramType });
  } catch (e) {
    results.push({ ok: false, error: String((e && e.message) || e) });
  }
}
process.stdout.write(JSON.stringify(results));
