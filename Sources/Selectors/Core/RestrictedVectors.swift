/// A vector source narrowed to a set of candidate rows: rows outside `candidates` read as unusable, so
/// every selector, which never picks an unusable row, selects among the candidates only.
///
/// The catalog wraps every column a selector reads in one of these when a query (a predicate, a
/// subset to select within, exclusions) leaves only some rows; the selectors need not know why.
public struct RestrictedVectors: VectorSource {
    public let base: any VectorSource
    /// The rows the query left (the universe is the base's rows).
    public let candidates: RowMask
    public let usableRows: RowMask?

    public init(_ base: any VectorSource, candidates: RowMask) {
        precondition(candidates.count == base.rowCount, "a mask of \(candidates.count) rows for a source of \(base.rowCount)")
        self.base = base
        self.candidates = candidates
        usableRows = base.usableRows.map { $0.intersection(candidates) } ?? candidates
    }

    public var rowCount: Int { base.rowCount }
    public var dimension: Int { base.dimension }
    public func forEachBlock(_ body: (RowBlock) throws -> Void) throws { try base.forEachBlock(body) }
    public func gather(rows: [Int]) throws -> Matrix { try base.gather(rows: rows) }
    public func prefetch() { base.prefetch() }

    public func withRowPointers<R>(
        _ rows: UnsafeBufferPointer<Int>, _ body: (UnsafeBufferPointer<UnsafeRawPointer>, RowFormat) throws -> R
    ) throws -> R {
        try base.withRowPointers(rows, body)
    }
}

extension VectorSource {
    /// The candidate rows of a ``RestrictedVectors`` source; nil for an unrestricted one. Selectors
    /// use it only to word their notes: a row a query left out is not "unusable".
    public var candidateRows: RowMask? { (self as? RestrictedVectors)?.candidates }

    /// Of `rows` (rows a selector could not use), those that are candidates: the rows worth reporting
    /// as unusable. All of them for an unrestricted source.
    public func candidatesAmong(_ rows: [Int]) -> [Int] {
        guard let candidates = candidateRows else { return rows }
        return rows.filter(candidates.contains)
    }
}
