// Client of the cell-state API (the learner's saved code and outputs per block).

export class CellStateApi {
  constructor(config) {
    this.url = config.cellsApiUrl;
    this.csrfToken = config.csrfToken;
  }

  async request(method, path, body, { keepalive = false } = {}) {
    const init = {
      method,
      keepalive,
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    if (method !== "GET") init.headers["X-CSRFToken"] = this.csrfToken;
    const response = await fetch(this.url + path, init);
    if (response.status === 204) return null;
    let data = null;
    try {
      data = await response.json();
    } catch {
      data = null;
    }
    if (!response.ok) {
      const message = (data && (data.detail || data.message)) || `${response.status} ${response.statusText}`;
      const error = new Error(message);
      error.status = response.status;
      throw error;
    }
    return data;
  }

  list() {
    return this.request("GET", "");
  }

  save(blockId, fields, options) {
    return this.request("PATCH", `${encodeURIComponent(blockId)}`, fields, options);
  }

  reset(blockId) {
    return this.request("DELETE", `${encodeURIComponent(blockId)}`);
  }

  reportCheck(blockId, passed) {
    return this.request("POST", `${encodeURIComponent(blockId)}/check`, { passed });
  }
}
