// Entry point of the learner-side bundle: finds the page's Jupyter blocks and the page's config
// (written by {% lms_jupyter_page_setup %}), puts back the learner's saved code and outputs, and wires it all up.
import "./style.css";
import katex from "katex";
import { CellStateApi } from "./api.js";
import { Cell } from "./cell.js";
import { KernelHub } from "./kernel.js";

/** Typeset the markdown blocks' math (`<span class="math inline">\\(…\\)</span>`, `<div class="math display">`)
 * as MathML with KaTeX: no fonts to ship, and the TeX stays as text when it does not parse. */
function renderMath(root) {
  for (const node of root.querySelectorAll(".math.inline, .math.display")) {
    if (node.dataset.lmsMath) continue;
    const displayMode = node.classList.contains("display");
    const tex = node.textContent.trim().replace(/^\\[([]/, "").replace(/\\[)\]]$/, "");
    try {
      node.innerHTML = katex.renderToString(tex, { displayMode, output: "mathml", throwOnError: true, trust: false });
      node.dataset.lmsMath = "rendered";
    } catch {
      node.dataset.lmsMath = "invalid";
    }
  }
}

async function boot() {
  renderMath(document);
  const configNode = document.getElementById("lms-jupyter-config");
  if (!configNode) return;
  const config = JSON.parse(configNode.textContent);
  const roots = [...document.querySelectorAll(".lms-jupyter-cell")].filter((root) => !root.dataset.lmsBooted);
  if (roots.length === 0) return;
  const hub = new KernelHub(config);
  const api = new CellStateApi(config);
  const cells = roots.map((root) => {
    root.dataset.lmsBooted = "true";
    return new Cell(root, { hub, api, config });
  });
  window.lmsJupyter = { hub, cells };

  if (config.authenticated && config.cellsApiUrl) {
    try {
      const saved = await api.list();
      const byBlock = new Map(saved.cells.map((state) => [state.block_id, state]));
      for (const cell of cells) {
        const state = byBlock.get(cell.blockId);
        if (state) cell.restore(state);
      }
    } catch (error) {
      // Saving now would overwrite the learner's saved code with the original: stop autosaving instead.
      for (const cell of cells) cell.disableAutosave(`${config.i18n.notLoaded}: ${error.message}`);
    }
  }
  if (config.authenticated) {
    // Show the state of the learner's kernel for this lesson if it still runs (its variables are there).
    for (const environment of new Set(cells.map((cell) => cell.environment))) {
      hub.reconnect(environment).catch(() => {});
    }
  }
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "hidden") for (const cell of cells) cell.flush({ keepalive: true });
  });
  window.addEventListener("pagehide", () => {
    for (const cell of cells) cell.flush({ keepalive: true });
  });
  document.documentElement.dataset.lmsJupyter = "ready";
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", boot);
else boot();
