// One Jupyter block on the page: editor, toolbar, kernel status, outputs, input() prompts, the exercise check,
// and the autosave of the learner's code and outputs.
import { createEditor } from "./editor.js";
import { OutputArea } from "./outputs.js";

const SAVE_DELAY_MS = 800;

function element(tag, className, text) {
  const el = document.createElement(tag);
  if (className) el.className = className;
  if (text !== undefined) el.textContent = text;
  return el;
}

function byteLength(text) {
  return new TextEncoder().encode(text).length;
}

function format(template, values) {
  return template.replace(/%\((\w+)\)s/g, (_, key) => String(values[key]));
}

export class Cell {
  constructor(root, { hub, api, config }) {
    this.root = root;
    this.hub = hub;
    this.api = api;
    this.config = config;
    this.t = config.i18n;
    const data = JSON.parse(root.querySelector("script.lms-jupyter-cell-data").textContent);
    this.blockId = root.dataset.blockId;
    this.environment = data.environment;
    this.original = data.source || "";
    this.setupCode = data.setup_code || "";
    this.checkCode = data.check_code || "";
    this.precomputed = Array.isArray(data.outputs) ? data.outputs : [];
    this.executionCount = null;
    this.saveTimer = null;
    this.pendingSave = {};
    this.autosave = Boolean(config.authenticated && config.cellsApiUrl && this.blockId);
    this.quiet = false;
    hub.register(this.environment);
    this.build();
  }

  build() {
    const t = this.t;
    const fallback = this.root.querySelector(".lms-jupyter-fallback");
    const toolbar = element("div", "lms-jupyter-toolbar");
    toolbar.setAttribute("role", "toolbar");
    this.runButton = element("button", "lms-jupyter-run", t.run);
    this.runButton.title = t.runTitle;
    this.interruptButton = element("button", "lms-jupyter-interrupt", t.interrupt);
    this.restartButton = element("button", "lms-jupyter-restart", t.restart);
    this.resetButton = element("button", "lms-jupyter-reset", t.reset);
    for (const button of [this.runButton, this.interruptButton, this.restartButton, this.resetButton]) {
      button.type = "button";
    }
    this.statusNode = element("span", "lms-jupyter-status", t.status.none);
    this.statusNode.setAttribute("role", "status");
    this.statusNode.dataset.state = "none";
    this.saveNode = element("span", "lms-jupyter-save");
    this.saveNode.setAttribute("aria-live", "polite");
    toolbar.append(this.runButton, this.interruptButton, this.restartButton, this.resetButton, this.statusNode, this.saveNode);

    this.editorNode = element("div", "lms-jupyter-editor");
    this.checkNode = element("div", "lms-jupyter-check");
    this.checkNode.hidden = true;
    this.checkNode.setAttribute("role", "status");
    const outputs = element("div", "lms-jupyter-outputs");
    outputs.setAttribute("aria-live", "polite");
    this.outputArea = new OutputArea(outputs);
    this.inputNode = element("div", "lms-jupyter-input");

    if (fallback) fallback.remove();
    this.root.append(toolbar, this.editorNode, outputs, this.inputNode, this.checkNode);
    this.editor = createEditor(this.editorNode, this.original, {
      label: t.editorLabel,
      onRun: () => this.run(),
      onChange: (text) => {
        if (!this.quiet) this.scheduleSave({ source: text });
      },
    });
    this.outputArea.setAll(this.precomputed);
    this.runButton.addEventListener("click", () => this.run());
    this.interruptButton.addEventListener("click", () => this.hub.interrupt(this.environment).catch((e) => this.notice(e.message)));
    this.restartButton.addEventListener("click", () => this.restart());
    this.resetButton.addEventListener("click", () => this.reset());
    this.hub.onState((environment, state) => {
      if (environment === this.environment) this.showState(state);
    });
    this.root.classList.add("lms-jupyter-ready");
  }

  /** Put back what the learner had saved (`state` from the cell-state API). */
  restore(state) {
    if (state.source !== null && state.source !== undefined && state.source !== this.editor.getText()) {
      this.quiet = true;
      this.editor.setText(state.source);
      this.quiet = false;
    }
    if (Array.isArray(state.outputs)) this.outputArea.setAll(state.outputs);
    this.executionCount = state.execution_count ?? null;
    if (state.passed) this.showCheck(true, "");
    this.root.classList.toggle("lms-jupyter-edited", state.source !== null && state.source !== undefined);
  }

  disableAutosave(message) {
    this.autosave = false;
    this.showSave("error", message);
  }

  showState(state) {
    const t = this.t.status;
    let text = t[state.status] || state.status;
    if (state.status === "starting" && state.queue) text = format(t.queued, { position: state.queue });
    if (state.connection && state.connection !== "connected" && state.status !== "none" && state.status !== "dead") {
      text = t[state.connection] || text;
    }
    if (state.error) text = `${t.error}: ${state.error}`;
    this.statusNode.textContent = text;
    this.statusNode.dataset.state = state.error ? "error" : state.status;
  }

  showSave(kind, text) {
    this.saveNode.dataset.state = kind;
    this.saveNode.textContent = text;
  }

  notice(text) {
    this.outputArea.add({
      output_type: "display_data",
      data: { "text/plain": text },
      metadata: { lms_cms_blocks: { notice: "client" } },
    });
  }

  showCheck(passed, detail) {
    this.checkNode.hidden = false;
    this.checkNode.dataset.passed = passed ? "true" : "false";
    this.checkNode.textContent = passed ? this.t.checkPassed : `${this.t.checkFailed}${detail ? ` ${detail}` : ""}`;
  }

  // -- saving ------------------------------------------------------------------------------------------------

  scheduleSave(fields) {
    if (!this.autosave) return;
    Object.assign(this.pendingSave, fields);
    this.showSave("pending", this.t.unsaved);
    clearTimeout(this.saveTimer);
    this.saveTimer = setTimeout(() => this.flush(), SAVE_DELAY_MS);
  }

  async flush({ keepalive = false } = {}) {
    clearTimeout(this.saveTimer);
    this.saveTimer = null;
    const fields = this.pendingSave;
    if (!this.autosave || Object.keys(fields).length === 0) return;
    this.pendingSave = {};
    this.showSave("saving", this.t.saving);
    try {
      await this.api.save(this.blockId, fields, { keepalive });
      this.root.classList.toggle("lms-jupyter-edited", this.editor.getText() !== this.original);
      if (Object.keys(this.pendingSave).length === 0) this.showSave("saved", this.t.saved);
    } catch (error) {
      // Keep what failed, so the next change or run retries it; nothing the learner wrote is dropped.
      this.pendingSave = { ...fields, ...this.pendingSave };
      this.showSave("error", `${this.t.notSaved}: ${error.message}`);
      if (error.status === undefined || error.status >= 500) this.saveTimer = setTimeout(() => this.flush(), 5000);
    }
  }

  savedOutputs() {
    const limit = this.config.limits.outputsMaxBytes;
    const outputs = this.outputArea.outputs.filter(
      (output) => !(output.metadata && output.metadata.lms_cms_blocks && output.metadata.lms_cms_blocks.notice === "client"),
    );
    const size = byteLength(JSON.stringify(outputs));
    if (size <= limit) return outputs;
    return [
      {
        output_type: "display_data",
        data: { "text/plain": format(this.t.outputsTooLarge, { size: (size / 1e6).toFixed(1), limit: (limit / 1e6).toFixed(1) }) },
        metadata: { lms_cms_blocks: { notice: "outputs_not_saved" } },
      },
    ];
  }

  // -- running -----------------------------------------------------------------------------------------------

  async run() {
    const code = this.editor.getText();
    this.outputArea.clear();
    this.inputNode.replaceChildren();
    this.checkNode.hidden = true;
    this.root.classList.add("lms-jupyter-running");
    if (this.saveTimer) this.flush();
    try {
      const session = await this.hub.liveSession(this.environment);
      const kernel = session.kernel;
      if (this.setupCode && this.hub.claimSetup(this.environment, this.blockId)) {
        const ok = await this.runHidden(kernel, this.setupCode, { showErrors: true });
        if (!ok) {
          this.hub.forgetSetup(this.environment, this.blockId);
          this.notice(this.t.setupFailed);
          return;
        }
      }
      const future = kernel.requestExecute({ code, silent: false, store_history: true, allow_stdin: true, stop_on_error: true });
      future.onIOPub = (msg) => this.onOutput(msg);
      future.onStdin = (msg) => {
        if (msg.header.msg_type === "input_request") this.askInput(msg, future);
      };
      const reply = await future.done;
      this.inputNode.replaceChildren();
      this.executionCount = reply.content.execution_count ?? null;
      this.scheduleSave({ source: code, outputs: this.savedOutputs(), execution_count: this.executionCount });
      this.flush();
      if (reply.content.status === "ok" && this.checkCode) await this.check(kernel);
    } catch (error) {
      this.inputNode.replaceChildren();
      this.notice(`${this.t.runFailed}: ${error.message || error}`);
    } finally {
      this.root.classList.remove("lms-jupyter-running");
    }
  }

  onOutput(msg) {
    if (msg.header.msg_type === "clear_output") {
      this.outputArea.clear(Boolean(msg.content.wait));
      return;
    }
    const output = OutputArea.fromMessage(msg);
    if (output) this.outputArea.add(output);
  }

  /** Run hidden code (setup or check); resolves to the execute_reply's content. */
  async runHidden(kernel, code, { showErrors }) {
    const future = kernel.requestExecute({ code, silent: true, store_history: false, allow_stdin: false, stop_on_error: false });
    future.onIOPub = (msg) => {
      if (showErrors && msg.header.msg_type === "error") this.onOutput(msg);
    };
    const reply = await future.done;
    return reply.content.status === "ok" ? reply.content : (showErrors ? null : reply.content);
  }

  async check(kernel) {
    const result = await this.runHidden(kernel, this.checkCode, { showErrors: false });
    const passed = result.status === "ok";
    this.showCheck(passed, passed ? "" : [result.ename, result.evalue].filter(Boolean).join(": "));
    let firstPass = false;
    if (this.autosave) {
      try {
        const answer = await this.api.reportCheck(this.blockId, passed);
        firstPass = Boolean(answer && answer.first_pass);
      } catch (error) {
        this.showSave("error", `${this.t.notSaved}: ${error.message}`);
        return;
      }
    }
    // Announced once the server recorded it, for the page to react (progress, a survey): documented in runtime.md.
    this.root.dispatchEvent(
      new CustomEvent("lms:exercise-checked", {
        bubbles: true,
        detail: { blockId: this.blockId, passed, firstPass, saved: Boolean(this.autosave) },
      }),
    );
  }

  askInput(msg, future) {
    const { prompt, password } = msg.content;
    const form = element("form", "lms-jupyter-input-form");
    const label = element("label", "lms-jupyter-input-prompt", prompt);
    const input = element("input", "lms-jupyter-input-field");
    input.type = password ? "password" : "text";
    input.autocomplete = "off";
    label.append(input);
    form.append(label);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const value = input.value;
      form.remove();
      this.outputArea.add({ output_type: "stream", name: "stdout", text: `${prompt}${password ? "········" : value}\n` });
      future.sendInputReply({ status: "ok", value }, msg.header);
    });
    this.inputNode.replaceChildren(form);
    input.focus();
  }

  async restart() {
    if (!window.confirm(this.t.restartConfirm)) return;
    try {
      await this.hub.restart(this.environment);
    } catch (error) {
      this.notice(`${this.t.restartFailed}: ${error.message || error}`);
    }
  }

  async reset() {
    if (!window.confirm(this.t.resetConfirm)) return;
    clearTimeout(this.saveTimer);
    this.pendingSave = {};
    this.quiet = true;
    this.editor.setText(this.original);
    this.quiet = false;
    this.outputArea.setAll(this.precomputed);
    this.root.classList.remove("lms-jupyter-edited");
    if (!this.autosave) return;
    try {
      await this.api.reset(this.blockId);
      this.showSave("saved", this.t.resetDone);
    } catch (error) {
      this.showSave("error", `${this.t.notSaved}: ${error.message}`);
    }
  }
}
