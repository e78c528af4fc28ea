// The page's kernels: one Jupyter session per learner per lesson (per kernel environment, when a lesson mixes
// several), shared by every cell of the page. Everything goes through @jupyterlab/services: REST calls,
// the kernel WebSocket with its reconnects, and the message protocol.
import { ServerConnection } from "@jupyterlab/services/lib/serverconnection";
import { KernelManager } from "@jupyterlab/services/lib/kernel";
import { SessionManager } from "@jupyterlab/services/lib/session";
import { noticeOf } from "./outputs.js";

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

function absolute(url) {
  const resolved = new URL(url, window.location.href).href;
  return resolved.endsWith("/") ? resolved : `${resolved}/`;
}

export class KernelHub {
  constructor(config) {
    const csrfToken = config.csrfToken;
    // The Django session cookie authenticates the learner; unsafe methods carry Django's CSRF token.
    const fetchWithCsrf = (input, init) => {
      const request = new Request(input, init);
      const headers = new Headers(request.headers);
      if (!SAFE_METHODS.has(request.method)) {
        headers.set("X-CSRFToken", csrfToken);
        headers.set("Content-Type", "application/json");
      }
      return window.fetch(new Request(request, { headers, credentials: "same-origin" }));
    };
    const baseUrl = absolute(config.kernelBaseUrl);
    const wsUrl = config.kernelWsUrl ? absolute(config.kernelWsUrl) : baseUrl.replace(/^http/, "ws");
    this.serverSettings = ServerConnection.makeSettings({
      baseUrl,
      wsUrl,
      appUrl: "",
      appendToken: false,
      token: "",
      fetch: fetchWithCsrf,
      init: { cache: "no-store", credentials: "same-origin" },
    });
    this._kernelManager = null;
    this._sessionManager = null;
    this.sessionPath = config.sessionPath;
    this.title = config.pageTitle || config.sessionPath;
    this.firstEnvironment = null;
    this.sessions = new Map(); // environment -> Promise<SessionConnection>
    this.setupDone = new Map(); // environment -> Set of block ids whose setup code ran in the current kernel
    this.states = new Map(); // environment -> {status, connection, queue, error}
    this.listeners = new Set();
  }

  // The managers poll the kernel service for running kernels as soon as they exist: they are made on first use,
  // so a page nobody runs (an anonymous reader's, say) asks the kernel service nothing.
  get kernelManager() {
    if (this._kernelManager === null) {
      this._kernelManager = new KernelManager({ serverSettings: this.serverSettings, standby: "when-hidden" });
    }
    return this._kernelManager;
  }

  get sessionManager() {
    if (this._sessionManager === null) {
      this._sessionManager = new SessionManager({
        kernelManager: this.kernelManager,
        serverSettings: this.serverSettings,
        standby: "when-hidden",
      });
    }
    return this._sessionManager;
  }

  /** `listener(environment, state)` is called whenever a kernel's state changes. */
  onState(listener) {
    this.listeners.add(listener);
  }

  state(environment) {
    return this.states.get(environment) || { status: "none", connection: null, queue: null, error: null };
  }

  _update(environment, changes) {
    const state = { ...this.state(environment), ...changes };
    this.states.set(environment, state);
    for (const listener of this.listeners) listener(environment, state);
  }

  register(environment) {
    if (this.firstEnvironment === null) this.firstEnvironment = environment;
  }

  pathFor(environment) {
    return environment === this.firstEnvironment ? this.sessionPath : `${this.sessionPath}/${environment}`;
  }

  /** The session of `environment` for this lesson: the learner's running one, or a new one. */
  session(environment) {
    if (!this.sessions.has(environment)) {
      const opening = this._open(environment).catch((error) => {
        this.sessions.delete(environment);
        this._update(environment, { status: "none", error: error.message || String(error) });
        throw error;
      });
      this.sessions.set(environment, opening);
    }
    return this.sessions.get(environment);
  }

  /** The session of `environment`, opened anew if the one kept was shut down (culled, or its kernel died). */
  async liveSession(environment) {
    const session = await this.session(environment);
    const kernel = session.kernel;
    if (!session.isDisposed && kernel && !kernel.isDisposed && kernel.status !== "dead") return session;
    this.sessions.delete(environment);
    return this.session(environment);
  }

  /** Connect to the learner's running session of `environment` for this lesson, if there is one (on load). */
  async reconnect(environment) {
    if (this.sessions.has(environment)) return;
    await this.sessionManager.ready;
    const model = await this.sessionManager.findByPath(this.pathFor(environment));
    if (!model || !model.kernel || this.sessions.has(environment)) return;
    const session = this.sessionManager.connectTo({ model });
    this._watch(environment, session);
    this.sessions.set(environment, Promise.resolve(session));
  }

  async _open(environment) {
    this._update(environment, { status: "starting", error: null });
    await this.sessionManager.ready;
    const path = this.pathFor(environment);
    const model = await this.sessionManager.findByPath(path);
    let session;
    if (model && model.kernel) {
      session = this.sessionManager.connectTo({ model });
    } else {
      session = await this.sessionManager.startNew({
        path,
        name: this.title,
        type: "notebook",
        kernel: { name: environment },
      });
    }
    this._watch(environment, session);
    return session;
  }

  _watch(environment, session) {
    const done = new Set();
    this.setupDone.set(environment, done);
    const kernel = session.kernel;
    this._update(environment, { status: kernel.status, connection: kernel.connectionStatus });
    session.statusChanged.connect((_, status) => {
      // A restarted (or replaced) kernel has none of the setup code's definitions any more.
      if (status === "restarting" || status === "autorestarting" || status === "dead") done.clear();
      const queue = status === "starting" ? this.state(environment).queue : null;
      this._update(environment, { status, queue });
    });
    session.connectionStatusChanged.connect((_, connection) => this._update(environment, { connection }));
    session.kernelChanged.connect(() => done.clear());
    session.iopubMessage.connect((_, msg) => {
      const notice = msg.header.msg_type === "stream" ? noticeOf(msg.metadata) : null;
      if (!notice) return;
      if (notice.notice === "queued") this._update(environment, { status: "starting", queue: notice.position });
      if (notice.notice === "dequeued") this._update(environment, { status: "starting", queue: null });
    });
  }

  /** Whether the setup code of block `blockId` still has to run in the current kernel (and mark it as run). */
  claimSetup(environment, blockId) {
    const done = this.setupDone.get(environment);
    if (!done || done.has(blockId)) return false;
    done.add(blockId);
    return true;
  }

  forgetSetup(environment, blockId) {
    const done = this.setupDone.get(environment);
    if (done) done.delete(blockId);
  }

  async interrupt(environment) {
    if (!this.sessions.has(environment)) return;
    const session = await this.session(environment);
    await session.kernel.interrupt();
  }

  async restart(environment) {
    if (!this.sessions.has(environment)) return;
    const session = await this.session(environment);
    this.setupDone.get(environment)?.clear();
    await session.kernel.restart();
  }
}
