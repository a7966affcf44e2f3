// bulletin serve: keeps an open page in step with the sources.
// Added by the preview server only; never part of a built site.
// A "state" event reloads the page when a newer good build exists, or shows the
// problems of a failed build over the last good page; "pdf" events tell the pages
// of an issue when its PDF is being made and when it is ready.
(() => {
  "use strict";
  const me = document.currentScript;
  const version = me.dataset.version;
  const issue = me.dataset.issue || "";
  let root = null;

  function ui() {
    if (root) return root;
    const host = document.createElement("bulletin-preview");
    host.style.all = "initial";
    document.documentElement.appendChild(host);
    root = host.attachShadow({ mode: "open" });
    root.innerHTML = `<style>
      .overlay { position: fixed; inset: 0; z-index: 2147483647; overflow: auto;
        background: rgba(24, 8, 8, .94); color: #fff; padding: 2rem max(1rem, 8vw);
        font: 15px/1.6 ui-monospace, "Noto Sans Mono CJK SC", monospace; }
      .overlay h2 { margin: 0 0 .25rem; font: 700 1.4rem/1.4 sans-serif; color: #ff8080; }
      .overlay .lead { margin: 0 0 1.5rem; color: #ddd; font-family: sans-serif; }
      .problem { margin: 0 0 1rem; padding: .75rem 1rem; border-left: 4px solid #ff5050;
        background: rgba(255, 255, 255, .06); white-space: pre-wrap; overflow-wrap: anywhere; }
      .problem.warning { border-color: #e0b040; }
      .where { color: #ffd070; font-weight: 700; }
      .hint { color: #aaa; }
      .chip { position: fixed; right: 1rem; bottom: 1rem; z-index: 2147483646;
        background: #222; color: #fff; padding: .5rem .9rem; border-radius: .4rem;
        font: 14px/1.5 sans-serif; box-shadow: 0 2px 8px rgba(0, 0, 0, .3); }
      .chip a { color: #ffd070; margin-left: .5rem; }
      .chip.fresh { background: #1d6b2f; }
      .chip.failed { background: #8b1a1a; }
      [hidden] { display: none !important; }
    </style>
    <div class="overlay" role="alertdialog" aria-label="构建失败" hidden>
      <h2>构建失败</h2>
      <p class="lead">页面仍是上次成功构建的版本。修正后保存，本页会自动刷新。</p>
      <div class="problems"></div>
    </div>
    <div class="chip pdf" role="status" hidden></div>
    <div class="chip conn" role="status" hidden></div>`;
    return root;
  }

  function showProblems(problems) {
    const overlay = ui().querySelector(".overlay");
    const list = overlay.querySelector(".problems");
    list.replaceChildren(
      ...problems.map((p) => {
        const item = document.createElement("div");
        item.className = `problem ${p.severity}`;
        const where = document.createElement("div");
        where.className = "where";
        where.textContent = p.where || "bulletin";
        const message = document.createElement("div");
        message.className = "message";
        message.textContent = p.message;
        item.append(where, message);
        if (p.hint) {
          const hint = document.createElement("div");
          hint.className = "hint";
          hint.textContent = `提示：${p.hint}`;
          item.append(hint);
        }
        return item;
      }),
    );
    overlay.hidden = false;
  }

  function hideProblems() {
    if (root) root.querySelector(".overlay").hidden = true;
  }

  function chip(kind, text, link, state) {
    const element = ui().querySelector(`.chip.${kind}`);
    element.className = `chip ${kind} ${state || ""}`;
    element.textContent = text;
    if (link) {
      const a = document.createElement("a");
      a.href = link;
      a.textContent = "打开";
      element.append(a);
    }
    element.hidden = !text;
  }

  const source = new EventSource("/__bulletin__/events");
  if (issue) chip("pdf", "本期 PDF", `/issues/${issue}/${issue}.pdf`, "");
  source.addEventListener("open", () => chip("conn", ""));
  source.addEventListener("error", () => chip("conn", "预览服务器连接中断，正在重连…"));
  source.addEventListener("state", (event) => {
    const state = JSON.parse(event.data);
    if (!state.ok) showProblems(state.problems);
    else if (state.version !== version) location.reload();
    else hideProblems();
  });
  source.addEventListener("pdf", (event) => {
    const pdf = JSON.parse(event.data);
    if (pdf.issue !== issue) return;
    if (pdf.status === "rendering") chip("pdf", "本期 PDF 正在重新生成…", null, "");
    else if (pdf.status === "ready" && pdf.replay) chip("pdf", "本期 PDF", pdf.url, "");
    else if (pdf.status === "ready") chip("pdf", "本期 PDF 已更新", `${pdf.url}?v=${Date.now()}`, "fresh");
    else chip("pdf", `本期 PDF 生成失败：${(pdf.problems || []).join("；")}`, null, "failed");
  });
  window.addEventListener("pagehide", () => source.close());
})();
