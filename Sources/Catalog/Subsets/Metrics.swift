import Foundation
import GRDB

/// `key=value` pairs for `quadcat metric`.
public enum MetricValues {
    /// Parses `target_nll=3.866`-style pairs: a key of letters, digits, '_', '.', '-', '/' or ':'
    /// (starting with a letter or '_'), and a finite number. A key given twice is an error.
    public static func parse(_ pairs: [String]) throws -> [(key: String, value: Double)] {
        guard !pairs.isEmpty else {
            throw CatalogError(.invalidRequest, "no metric given", remedy: "for example: quadcat metric CATALOG NAME@1 target_nll=3.866")
        }
        var out: [(key: String, value: Double)] = []
        for pair in pairs {
            guard let equals = pair.firstIndex(of: "=") else {
                throw CatalogError(.invalidRequest, "metric '\(pair)' is not key=value", remedy: "for example target_nll=3.866")
            }
            let key = String(pair[..<equals]), text = String(pair[pair.index(after: equals)...])
            try checkKey(key)
            guard let value = Double(text.trimmingCharacters(in: .whitespaces)), value.isFinite else {
                throw CatalogError(.invalidRequest, "metric \(key): '\(text)' is not a finite number", remedy: "give a number, e.g. \(key)=3.866")
            }
            guard !out.contains(where: { $0.key == key }) else {
                throw CatalogError(.invalidRequest, "metric \(key) is given twice", remedy: "give each key once")
            }
            out.append((key, value))
        }
        return out
    }

    static func checkKey(_ key: String) throws {
        let scalars = Array(key.unicodeScalars)
        func isLetter(_ c: Unicode.Scalar) -> Bool { c == "_" || ("a"..."z").contains(c) || ("A"..."Z").contains(c) }
        guard let first = scalars.first, isLetter(first), scalars.count <= 64,
              scalars.allSatisfy({ isLetter($0) || ("0"..."9").contains($0) || ".-/:".unicodeScalars.contains($0) })
        else {
            throw CatalogError(
                .invalidRequest, "metric key '\(key)' must start with a letter or '_' and hold only letters, digits and _ . - / : (at most 64)",
                remedy: "for example target_nll or eval/accuracy")
        }
    }
}

extension Catalog {
    /// Records downstream measurements against a subset version (`quadcat metric`), with the time and
    /// an optional note. Every recording is kept; `log`, `show` and `compare` show the latest per key.
    /// The subset itself does not change (neither its recipe nor its content).
    public func recordMetrics(_ reference: String, values: [(key: String, value: Double)], note: String? = nil) throws -> SubsetInfo {
        guard !values.isEmpty else { throw CatalogError(.invalidRequest, "no metric given") }
        for (key, value) in values {
            try MetricValues.checkKey(key)
            guard value.isFinite else { throw CatalogError(.invalidRequest, "metric \(key) is not a finite number") }
        }
        return try write { _ in
            try database.write { db in
                let row = try subsetRow(reference, db)
                let now = Self.timestamp()
                for (key, value) in values {
                    try db.execute(
                        sql: "INSERT INTO subset_metric (subset_id, key, value, note, recorded_at) VALUES (?, ?, ?, ?, ?)",
                        arguments: [row.id, key, value, note, now])
                }
                return try info(of: row, db)
            }
        }
    }
}
