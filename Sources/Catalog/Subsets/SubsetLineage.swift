import GRDB

/// A subset a version was made from, as `log` and `show` report it.
public struct SubsetParent: Codable, Sendable, Equatable {
    /// "operand" (combine), "part" (mix), "within" or "exclude" (select).
    public var role: String
    /// `name@version`.
    public var subset: String
    /// The parent's content hash: exactly which members were used.
    public var contentHash: String
    /// A mix part's share of the budget, in (0, 1].
    public var share: Double?

    static func all(of subsetID: Int64, _ db: Database) throws -> [SubsetParent] {
        try Row.fetchAll(db, sql: """
            SELECT p.role, p.content_hash, p.share, s.name, s.version FROM subset_parent p JOIN subset s ON s.id = p.parent_id
            WHERE p.subset_id = ? ORDER BY p.seq
            """, arguments: [subsetID]).map { row in
            SubsetParent(role: row["role"], subset: "\(row["name"] as String)@\(row["version"] as Int)", contentHash: row["content_hash"], share: row["share"])
        }
    }
}

/// A downstream measurement recorded against a subset version (`quadcat metric`).
public struct SubsetMetric: Codable, Sendable, Equatable {
    public var key: String
    public var value: Double
    public var note: String?
    /// When it was recorded (ISO 8601, UTC).
    public var recordedAt: String
    /// How many values were recorded for this key before this one (kept, superseded).
    public var earlierValues: Int

    /// The latest value of each key, by key.
    static func latest(of subsetID: Int64, _ db: Database) throws -> [SubsetMetric] {
        try Row.fetchAll(db, sql: """
            SELECT m.key, m.value, m.note, m.recorded_at,
                   (SELECT COUNT(*) FROM subset_metric e WHERE e.subset_id = m.subset_id AND e.key = m.key) - 1 AS earlier
            FROM subset_metric m
            WHERE m.subset_id = ? AND m.id = (SELECT MAX(id) FROM subset_metric l WHERE l.subset_id = m.subset_id AND l.key = m.key)
            ORDER BY m.key
            """, arguments: [subsetID]).map { row in
            SubsetMetric(key: row["key"], value: row["value"], note: row["note"], recordedAt: row["recorded_at"], earlierValues: row["earlier"])
        }
    }
}

extension SubsetInfo {
    /// The current value of a metric, if recorded.
    public func metric(_ key: String) -> Double? { metrics.first { $0.key == key }?.value }
}
