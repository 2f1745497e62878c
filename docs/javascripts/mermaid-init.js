// Render the ```mermaid blocks of the docs as diagrams (mkdocs' own theme has no Mermaid
// support). Markdown's fenced_code turns them into <pre><code class="language-mermaid">;
// each becomes a <div class="mermaid"> holding the diagram source, which Mermaid then draws.
// Loaded as an ES module (mkdocs.yml: extra_javascript, type: module). Without network the
// import fails, this module never runs and the blocks stay readable as code.
import mermaid from "https://cdn.jsdelivr.net/npm/mermaid@11/dist/mermaid.esm.min.mjs";

const blocks = document.querySelectorAll("pre > code.language-mermaid");
const nodes = [];
for (const code of blocks) {
  const diagram = document.createElement("div");
  diagram.className = "mermaid";
  // textContent undoes the HTML escaping (--&gt; is -->) and ignores any highlighting markup.
  diagram.textContent = code.textContent;
  code.parentElement.replaceWith(diagram);
  nodes.push(diagram);
}

if (nodes.length) {
  const dark = document.documentElement.getAttribute("data-bs-theme") === "dark";
  mermaid.initialize({ startOnLoad: false, theme: dark ? "dark" : "default" });
  await mermaid.run({ nodes });
}
