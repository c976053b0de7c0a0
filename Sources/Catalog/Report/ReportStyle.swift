/// The page's inline style sheet and its one inline script. Neither fetches anything (system fonts
/// only), and neither contains `<` or `&`, so the page stays well-formed XML as well as HTML.
enum ReportStyle {
    static let css = """
        :root { color-scheme: light; }
        * { box-sizing: border-box; }
        body { margin: 0; color: #222; background: #fff;
          font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
        main { max-width: 1200px; margin: 0 auto; padding: 20px 28px 48px; }
        h1 { font-size: 24px; margin: 0 0 4px; }
        h2 { font-size: 18px; margin: 34px 0 6px; padding-top: 10px; border-top: 1px solid #ddd; }
        h3 { font-size: 14px; margin: 0 0 6px; }
        p { margin: 4px 0 10px; max-width: 70em; }
        .meta { color: #555; margin: 0; }
        nav.toc { margin: 12px 0 0; font-size: 13px; }
        nav.toc a { margin-right: 14px; color: #0B5394; }
        code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace; font-size: 12px; }
        code.command { display: block; white-space: pre-wrap; overflow-wrap: anywhere; background: #F4F4F4; padding: 6px 8px; }
        .table-wrap { overflow-x: auto; }
        table.compare { border-collapse: collapse; font-variant-numeric: tabular-nums; margin: 6px 0; }
        table.compare th, table.compare td { padding: 4px 9px; border-bottom: 1px solid #E4E4E4; text-align: right; white-space: nowrap; }
        table.compare th.text, table.compare td.text { text-align: left; }
        table.compare thead th { border-bottom: 2px solid #888; vertical-align: bottom; font-weight: 600; white-space: normal; max-width: 9em; }
        table.compare tbody tr:hover { background: #F6F8FB; }
        table.sortable thead th { cursor: pointer; }
        table.sortable thead th:focus { outline: 2px solid #0072B2; }
        table.sortable thead th[aria-sort="ascending"]::after { content: " \\25B2"; font-size: 10px; }
        table.sortable thead th[aria-sort="descending"]::after { content: " \\25BC"; font-size: 10px; }
        .missing { color: #999; }
        dl.columns { display: grid; grid-template-columns: max-content 1fr; gap: 1px 14px; font-size: 12px; color: #444; margin: 8px 0; }
        dl.columns dt { font-weight: 600; }
        dl.columns dd { margin: 0; }
        .grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(330px, 1fr)); gap: 14px 22px; align-items: start; }
        figure { margin: 0; break-inside: avoid; page-break-inside: avoid; }
        figure svg { width: 100%; height: auto; display: block; }
        figure.wide svg { width: auto; max-width: 100%; }
        figcaption { font-size: 12px; color: #555; margin-top: 2px; }
        .swatch { display: inline-block; width: 11px; height: 11px; margin-right: 6px; vertical-align: -1px; border: 1px solid rgba(0, 0, 0, 0.25);
          -webkit-print-color-adjust: exact; print-color-adjust: exact; }
        ul.notes { font-size: 13px; color: #444; }
        .lineage { margin: 0 0 18px; break-inside: avoid; page-break-inside: avoid; }
        table.kv { border-collapse: collapse; font-size: 13px; }
        table.kv th { text-align: left; font-weight: 600; padding: 2px 14px 2px 0; vertical-align: top; white-space: nowrap; color: #444; }
        table.kv td { padding: 2px 0; overflow-wrap: anywhere; }
        table.kv ul { margin: 0; padding-left: 18px; }
        table.inputs { border-collapse: collapse; font-size: 12px; }
        table.inputs th, table.inputs td { padding: 1px 12px 1px 0; text-align: left; font-weight: normal; }
        table.inputs thead th { color: #666; }
        .palette span { margin-right: 14px; white-space: nowrap; }
        footer { margin-top: 36px; font-size: 12px; color: #555; border-top: 1px solid #ddd; padding-top: 8px; }
        @media print {
          body { font-size: 10pt; }
          main { max-width: none; padding: 0; }
          nav.toc { display: none; }
          section + section { break-before: page; page-break-before: always; }
          h2 { break-after: avoid; page-break-after: avoid; border-top: none; }
          .grid { grid-template-columns: repeat(2, 1fr); }
          .table-wrap { overflow: visible; }
          table.compare { font-size: 8pt; }
          table.compare th, table.compare td { padding: 2px 4px; }
          table.compare tbody tr:hover { background: none; }
        }
        """

    /// Sorts the comparison table by a clicked header (numbers first click descending, text
    /// ascending; a second click reverses; rows without a value stay last) and by `#sort=KEY` or
    /// `#sort=-KEY` in the address, so a link can open the table sorted.
    static let script = """
        (function () {
          "use strict";
          var table = document.getElementById("compare-table");
          if (!table) { return; }
          var heads = table.tHead.rows[0].cells;
          var body = table.tBodies[0];
          function valueOf(row, column, numeric) {
            var raw = row.cells[column].getAttribute("data-value");
            if (raw === null) { return null; }
            return numeric ? Number(raw) : raw.toLowerCase();
          }
          function sortBy(column, descending) {
            var numeric = heads[column].getAttribute("data-type") === "number";
            var rows = Array.prototype.slice.call(body.rows);
            rows.sort(function (a, b) {
              var x = valueOf(a, column, numeric), y = valueOf(b, column, numeric);
              if (x === y) { return 0; }
              if (x === null) { return 1; }
              if (y === null) { return -1; }
              var order = x > y ? 1 : -1;
              return descending ? -order : order;
            });
            rows.forEach(function (row) { body.appendChild(row); });
            Array.prototype.forEach.call(heads, function (head) { head.removeAttribute("aria-sort"); });
            heads[column].setAttribute("aria-sort", descending ? "descending" : "ascending");
          }
          Array.prototype.forEach.call(heads, function (head, column) {
            head.tabIndex = 0;
            function activate() {
              var current = head.getAttribute("aria-sort");
              var numeric = head.getAttribute("data-type") === "number";
              sortBy(column, current ? current === "ascending" : numeric);
            }
            head.addEventListener("click", activate);
            head.addEventListener("keydown", function (event) {
              if (event.key === "Enter" || event.key === " ") { event.preventDefault(); activate(); }
            });
          });
          table.classList.add("sortable");
          var wanted = /^#sort=(-?)(.+)$/.exec(window.location.hash);
          if (wanted) {
            var key = decodeURIComponent(wanted[2]);
            Array.prototype.forEach.call(heads, function (head, column) {
              if (head.getAttribute("data-key") === key) { sortBy(column, wanted[1] === "-"); }
            });
          }
        })();
        """
}
