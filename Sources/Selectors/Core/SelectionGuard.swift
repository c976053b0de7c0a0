/// Decides, as a selector commits its members one by one, whether a row may join the subset (the
/// near-duplicate guard, ``NearDuplicateGuard``, is one).
///
/// Every selector consults its guard exactly where it commits a member: ranked selectors (LESS, RDS,
/// random) walk their ranking and keep the rows the guard admits; greedy ones (SPICE, the DPP) drop a
/// refused pick from their candidates and choose again; Quad admits the rows of an accepted slice one
/// by one; GTP walks its members by weight. A guard remembers what it admitted: every later decision
/// is taken against those rows. Without a guard every selector behaves exactly as before.
public protocol SelectionGuard: AnyObject {
    /// Admits `row` (it is a member from now on; returns true) or refuses it (returns false).
    func admit(_ row: Int) throws -> Bool
    /// Walks `rows` in order, admitting or refusing each, until `limit` rows are admitted; returns the
    /// admitted rows in order. Rows after the `limit`-th admitted one are not looked at.
    func admit(inOrder rows: [Int], limit: Int) throws -> [Int]
    /// ``admit(_:)`` for a selector that commits one row at a time, with the rows it expects to ask
    /// about next, best first (a guard may prepare their answers in one batch). The decision is that
    /// of ``admit(_:)``.
    func admit(_ row: Int, anticipating next: [Int]) throws -> Bool
    /// Rows refused so far.
    var refused: Int { get }
}

extension SelectionGuard {
    /// Without anticipation.
    public func admit(_ row: Int, anticipating next: [Int]) throws -> Bool { try admit(row) }

    /// One row at a time (guards with a faster batch form override it).
    public func admit(inOrder rows: [Int], limit: Int) throws -> [Int] {
        var admitted: [Int] = []
        for row in rows where admitted.count < limit {
            if try admit(row) { admitted.append(row) }
        }
        return admitted
    }
}

/// The first `k` rows of a ranking that a guard admits, for ranked selectors.
///
/// `ranking(p)` must return the best `p` rows in rank order (fewer when fewer exist), each prefix
/// consistent with the longer ones (as ``topK(_:k:isEligible:)`` and ``RowKeys/smallest(_:of:seed:)``
/// are). Without a guard this is `ranking(k)`; with one, the walk continues past refused rows, asking
/// for twice as long a prefix each time it runs out.
public func admitted(
    _ k: Int, guard selectionGuard: (any SelectionGuard)?, ranking: (Int) throws -> [Int]
) throws -> [Int] {
    guard let selectionGuard, k > 0 else { return try ranking(k) }
    var taken: [Int] = []
    var walked = 0
    var length = k
    while true {
        let prefix = try ranking(length)
        if walked < prefix.count {
            taken += try selectionGuard.admit(inOrder: Array(prefix[walked...]), limit: k - taken.count)
        }
        walked = prefix.count
        if taken.count == k || prefix.count < length { return taken }
        length = length > Int.max / 2 ? Int.max : 2 * length
    }
}
