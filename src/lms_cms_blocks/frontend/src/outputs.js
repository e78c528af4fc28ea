// Rendering of kernel outputs (nbformat v4 output dicts). Every output is hostile: HTML, SVG, Markdown and
// LaTeX go through DOMPurify before they reach the DOM, text is escaped (ansi_up escapes while it colours),
// images are only ever data: URLs of the declared type, and JavaScript outputs are never run.
//
// An output may style itself, never the page: style sheets (<style>, <link>) are removed, inline styles lose
// `position: fixed` and `sticky` (as JupyterLab's sanitizer allows only static, relative and absolute), and the
// box each rich output is rendered in (.lms-jupyter-rich in style.css) contains its paint and stacking, so what
// is left (absolute positions, z-index, negative margins, transforms, the page's own class names) stays inside it.
import DOMPurify from "dompurify";
import { AnsiUp } from "ansi_up";
import { marked } from "marked";
import katex from "katex";

/** MIME types in the order they are preferred, as Jupyter's own front ends do. */
export const MIME_ORDER = [
  "text/html",
  "text/markdown",
  "image/svg+xml",
  "image/png",
  "image/jpeg",
  "text/latex",
  "text/plain",
];

// Style sheets would restyle the whole lesson page (hide the impersonation banner, cover the page); forms and
// their controls could ask a staff member reviewing a learner's outputs for their password; frames and plugins
// would load another page into ours. <link>, <meta> and <base> are not in DOMPurify's allowlist anyway.
const FORBID_TAGS = [
  "style",
  "link",
  "meta",
  "base",
  "form",
  "input",
  "button",
  "textarea",
  "select",
  "option",
  "iframe",
  "frame",
  "frameset",
  "object",
  "embed",
];
const FORBID_ATTR = ["action", "formaction"];

const PROFILES = {
  html: { FORBID_TAGS, FORBID_ATTR, ALLOW_DATA_ATTR: false },
  svg: { USE_PROFILES: { svg: true, svgFilters: true }, FORBID_TAGS, FORBID_ATTR, ALLOW_DATA_ATTR: false },
  mathml: { USE_PROFILES: { mathMl: true, html: true }, FORBID_TAGS, FORBID_ATTR, ALLOW_DATA_ATTR: false },
};

const XLINK = "http://www.w3.org/1999/xlink";
// Positions kept in inline styles; fixed and sticky (also through var()) place an element against the viewport
// or the page's scrolling instead of the output.
const KEPT_POSITIONS = new Set(["", "static", "relative", "absolute"]);

DOMPurify.addHook("afterSanitizeAttributes", (node) => {
  // Links (HTML <a>, SVG <a> with href or xlink:href, any case) open in a new tab and give the opened page no
  // handle on ours. DOMPurify has already dropped javascript: and other unsafe URLs.
  if (
    node.localName === "a" &&
    (node.hasAttribute("href") || (node.hasAttributeNS && node.hasAttributeNS(XLINK, "href")))
  ) {
    node.setAttribute("target", "_blank");
    node.setAttribute("rel", "noopener noreferrer nofollow");
  }
  // Inline styles stay (coloured table cells, widths), parsed by the browser's CSS parser, less what escapes.
  if (node.hasAttribute && node.hasAttribute("style")) {
    const style = node.style;
    if (!style) {
      node.removeAttribute("style");
    } else if (!KEPT_POSITIONS.has(style.getPropertyValue("position").trim().toLowerCase())) {
      style.removeProperty("position");
      if (!style.length) node.removeAttribute("style");
    }
  }
});

function purify(markup, profile) {
  return DOMPurify.sanitize(String(markup), PROFILES[profile]);
}

export function sanitizeHtml(html) {
  return purify(html, "html");
}

export function sanitizeSvg(svg) {
  return purify(svg, "svg");
}

function joined(value) {
  return Array.isArray(value) ? value.join("") : String(value ?? "");
}

/** Text as a terminal shows it: "\r" returns to the start of the line (progress bars). */
function terminalText(text) {
  return text
    .replace(/\r\n/g, "\n")
    .split("\n")
    .map((line) => {
      const parts = line.split("\r");
      return parts[parts.length - 1];
    })
    .join("\n");
}

function ansiElement(text, className) {
  const pre = document.createElement("pre");
  pre.className = className;
  const ansi = new AnsiUp();
  ansi.use_classes = true;
  pre.innerHTML = ansi.ansi_to_html(terminalText(text)); // ansi_up escapes &, <, >, " and '
  return pre;
}

const BASE64 = /^[A-Za-z0-9+/=\s]*$/;

function imageElement(mime, data, metadata) {
  const text = joined(data);
  if (!BASE64.test(text)) return ansiElement(`[${mime} output that is not base64]`, "lms-jupyter-stderr");
  const img = document.createElement("img");
  img.src = `data:${mime};base64,${text.replace(/\s/g, "")}`;
  img.alt = "";
  const size = metadata && metadata[mime];
  if (size && Number.isFinite(size.width)) img.width = size.width;
  if (size && Number.isFinite(size.height)) img.height = size.height;
  return img;
}

function latexElement(source) {
  let tex = source.trim();
  let displayMode = true;
  const delimiters = [
    ["$$", "$$"],
    ["\\[", "\\]"],
    ["\\(", "\\)"],
    ["$", "$"],
  ];
  for (const [open, close] of delimiters) {
    if (tex.startsWith(open) && tex.endsWith(close) && tex.length >= open.length + close.length) {
      tex = tex.slice(open.length, tex.length - close.length);
      displayMode = open !== "\\(" && open !== "$";
      break;
    }
  }
  const div = document.createElement("div");
  div.className = "lms-jupyter-latex";
  // MathML output: the browser typesets it, no fonts or style sheet to ship.
  const html = katex.renderToString(tex, { displayMode, output: "mathml", throwOnError: false, trust: false });
  div.innerHTML = purify(html, "mathml");
  return div;
}

function richElement(data, metadata) {
  const mime = MIME_ORDER.find((type) => data && data[type] !== undefined);
  const div = document.createElement("div");
  div.className = "lms-jupyter-rich";
  if (mime === undefined) {
    div.append(ansiElement(`[output of type ${Object.keys(data || {}).join(", ") || "unknown"}]`, "lms-jupyter-stderr"));
    return div;
  }
  div.dataset.mimeType = mime;
  const value = joined(data[mime]);
  switch (mime) {
    case "text/html":
      div.innerHTML = sanitizeHtml(value);
      break;
    case "text/markdown":
      div.innerHTML = sanitizeHtml(marked.parse(value, { async: false }));
      break;
    case "image/svg+xml":
      div.innerHTML = sanitizeSvg(value);
      break;
    case "image/png":
    case "image/jpeg":
      div.append(imageElement(mime, data[mime], metadata));
      break;
    case "text/latex":
      div.append(latexElement(value));
      break;
    default:
      div.append(ansiElement(value, "lms-jupyter-text"));
  }
  return div;
}

/** The notice a kernel service sends as stderr (lms_kernels puts its kind in the message's metadata). */
export function noticeOf(metadata) {
  const info = metadata && (metadata.lms_kernels || metadata.lms_cms_blocks);
  return info && info.notice ? info : null;
}

/** One output dict as a DOM element. */
export function renderOutput(output) {
  const notice = noticeOf(output.metadata);
  if (notice && output.output_type === "display_data") {
    const div = document.createElement("div");
    div.className = "lms-jupyter-notice";
    div.dataset.notice = notice.notice;
    div.setAttribute("role", "status");
    div.textContent = joined(output.data && output.data["text/plain"]);
    return div;
  }
  switch (output.output_type) {
    case "stream":
      return ansiElement(joined(output.text), output.name === "stderr" ? "lms-jupyter-stderr" : "lms-jupyter-stdout");
    case "error": {
      const traceback = (output.traceback || []).join("\n") || `${output.ename}: ${output.evalue}`;
      return ansiElement(traceback, "lms-jupyter-error");
    }
    case "display_data":
    case "execute_result": {
      const el = richElement(output.data, output.metadata);
      if (output.output_type === "execute_result") el.classList.add("lms-jupyter-result");
      return el;
    }
    default:
      return ansiElement(`[unknown output type ${String(output.output_type)}]`, "lms-jupyter-stderr");
  }
}

/**
 * The output area of a cell: a list of output dicts and their elements, kept in step.
 * Consecutive stream outputs of the same name are merged, as nbformat does.
 */
export class OutputArea {
  constructor(node) {
    this.node = node;
    this.outputs = [];
    this.clearPending = false;
  }

  clear(wait = false) {
    if (wait) {
      this.clearPending = true;
      return;
    }
    this.clearPending = false;
    this.outputs = [];
    this.node.replaceChildren();
  }

  add(output) {
    if (this.clearPending) this.clear();
    const last = this.outputs[this.outputs.length - 1];
    if (output.output_type === "stream" && last && last.output_type === "stream" && last.name === output.name) {
      last.text = joined(last.text) + joined(output.text);
      this.node.lastChild.replaceWith(renderOutput(last));
      return;
    }
    const copy = { ...output };
    this.outputs.push(copy);
    this.node.append(renderOutput(copy));
  }

  setAll(outputs) {
    this.clear();
    for (const output of outputs || []) {
      if (output && typeof output === "object") this.add(output);
    }
  }

  /** An output dict from a kernel message on iopub, or null for messages that are not outputs. */
  static fromMessage(msg) {
    const type = msg.header.msg_type;
    const c = msg.content;
    switch (type) {
      case "stream": {
        const notice = noticeOf(msg.metadata);
        if (notice) {
          return {
            output_type: "display_data",
            data: { "text/plain": c.text },
            metadata: { lms_cms_blocks: { ...notice } },
          };
        }
        return { output_type: "stream", name: c.name, text: c.text };
      }
      case "display_data":
        return { output_type: "display_data", data: c.data, metadata: c.metadata || {} };
      case "execute_result":
        return {
          output_type: "execute_result",
          execution_count: c.execution_count,
          data: c.data,
          metadata: c.metadata || {},
        };
      case "error":
        return { output_type: "error", ename: c.ename, evalue: c.evalue, traceback: c.traceback || [] };
      default:
        return null;
    }
  }
}
