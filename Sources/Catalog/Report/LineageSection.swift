import Foundation

/// How each subset was made: selector and version, parameters, seed, budget, the input columns and
/// their content hashes, the recipe and content hashes, when, how long, and by which quadcat; and
/// what the selector reported about its run (notes, counters, timings).
enum LineageSection {
    static func render(_ info: SubsetInfo, index: Int) -> RenderedChart {
        var rows: [(String, String)] = [
            ("selector", "\(info.selector) version \(info.selectorVersion)"),
            ("parameters", parameters(info.parameters)),
            ("seed", String(info.seed)),
            ("budget", "\(info.budgetSpec) = \(AxisTicks.grouped(info.budget)) rows; \(AxisTicks.grouped(info.rowCount)) selected"),
            ("corpus", info.corpus),
        ]
        if let target = info.target { rows.append(("target", target)) }
        if let parent = info.parentVersion { rows.append(("previous version", "\(info.name)@\(parent)")) }
        if !info.tags.isEmpty { rows.append(("tags", info.tags.joined(separator: ", "))) }
        rows += queryRows(info)
        if !info.parents.isEmpty {
            rows.append(("made from", info.parents.map { parent in
                "\(parent.role) \(parent.subset)" + (parent.share.map { String(format: " (%.4g%%)", $0 * 100) } ?? "") + " [\(parent.contentHash.prefix(16))]"
            }.joined(separator: "; ")))
        }
        if !info.metrics.isEmpty {
            rows.append(("metrics", info.metrics.map { metric in
                "\(metric.key) = \(String(format: "%.6g", metric.value))" + (metric.note.map { " (\($0))" } ?? "") + " at \(metric.recordedAt)"
            }.joined(separator: "; ")))
        }
        rows += [
            ("recipe hash", info.recipeHash),
            ("content hash", info.contentHash),
            ("created", "\(info.createdAt) in \(String(format: "%.2f", info.elapsedSeconds)) s by quadcat \(info.toolVersion)"),
        ]
        let diagnostics = info.diagnostics
        if !diagnostics.counters.isEmpty { rows.append(("run", figures(diagnostics.counters))) }
        if !diagnostics.timings.isEmpty { rows.append(("timings (s)", figures(diagnostics.timings))) }

        var html = "<article class=\"lineage\"\(SVGCanvas.attributes([("data-chart", "lineage"), ("data-subset", info.reference)]))>"
        html += "<h3><span class=\"swatch\" style=\"background:\(ReportPalette.subset(index))\"></span>\(HTMLEscaping.escape(info.reference))</h3>"
        html += "<table class=\"kv\"><tbody>"
        for (key, value) in rows {
            let monospace = key.hasSuffix("hash") || key == "parameters"
            html += "<tr><th scope=\"row\">\(HTMLEscaping.escape(key))</th><td\(monospace ? " class=\"mono\"" : "")>\(HTMLEscaping.escape(value))</td></tr>"
        }
        if !info.inputs.isEmpty {
            html += "<tr><th scope=\"row\">inputs</th><td><table class=\"inputs\"><thead><tr><th>role</th><th>column</th><th>checkpoint</th><th>content hash</th></tr></thead><tbody>"
            for input in info.inputs {
                html += "<tr><td>\(HTMLEscaping.escape(input.role))</td><td>\(HTMLEscaping.escape(input.column))</td>"
                html += "<td>\(input.checkpoint > 0 ? String(input.checkpoint) : "\u{2013}")</td><td class=\"mono\">\(HTMLEscaping.escape(input.contentHash))</td></tr>"
            }
            html += "</tbody></table></td></tr>"
        }
        if !diagnostics.notes.isEmpty {
            html += "<tr><th scope=\"row\">notes</th><td><ul>" + diagnostics.notes.map { "<li>\(HTMLEscaping.escape($0))</li>" }.joined() + "</ul></td></tr>"
        }
        html += "</tbody></table></article>"
        return RenderedChart(kind: "lineage", html: html, elements: rows.count + info.inputs.count)
    }

    /// The query a selection ran over: predicate, membership, external ids, guard, candidates.
    static func queryRows(_ info: SubsetInfo) -> [(String, String)] {
        guard let query = info.query else { return [] }
        var rows: [(String, String)] = []
        if let predicate = query.predicate { rows.append(("where", predicate)) }
        if let within = query.within { rows.append(("within", within)) }
        if !query.exclude.isEmpty { rows.append(("excluding", query.exclude.joined(separator: ", "))) }
        if let ids = query.excludeIDs {
            rows.append(("excluding ids", "\(ids.file): \(AxisTicks.grouped(ids.ids)) ids, \(AxisTicks.grouped(ids.matched)) in the corpus"))
        }
        if let candidates = query.candidates {
            rows.append(("candidates", "\(AxisTicks.grouped(candidates)) rows (budget a share of the \(query.budgetBasis))"))
        }
        if let dedup = query.dedup {
            let column = dedup.checkpoint > 0 ? "\(dedup.column)@\(dedup.checkpoint)" : dedup.column
            rows.append(("near-duplicate guard", "\(column) cosine >= \(dedup.cosine): \(AxisTicks.grouped(dedup.refused)) rows refused"))
        }
        return rows
    }

    /// Canonical JSON parameters as `key = value` pairs; other text as it is.
    static func parameters(_ json: String) -> String {
        guard let object = try? JSONDecoder().decode([String: JSONField].self, from: Data(json.utf8)) else { return json }
        guard !object.isEmpty else { return "(none)" }
        return object.keys.sorted().map { "\($0) = \(object[$0]!.text)" }.joined(separator: ", ")
    }

    private static func figures(_ values: [String: Double]) -> String {
        values.keys.sorted().map { "\($0) \(String(format: "%.4g", values[$0]!))" }.joined(separator: ", ")
    }
}
