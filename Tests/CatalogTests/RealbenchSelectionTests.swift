import Catalog
import Foundation
import Testing
import TestSupport

/// Every selector at 5% on the real benchmark (skipped when realbench is absent: set QUADCAT_REALBENCH): the share
/// of the target domain among the picks, and the planted duplicate pairs picked.
@Suite("Realbench selection", .enabled(if: Fixtures.realbench != nil, "realbench is not present (set QUADCAT_REALBENCH)"))
struct RealbenchSelectionTests {
    @Test func everySelectorPicksAndTheTargetedOnesFavourTheTarget() throws {
        let root = Fixtures.realbench!
        let dir = TemporaryDirectory("realbench-select")
        let catalog = try Realbench.build(root, at: dir.file("rb.quadcat"))
        let labels = try Realbench.labels(root)
        let baseRate = Double(labels.domains.filter { $0 == "python_docs" }.count) / Double(labels.domains.count)
        var lines = ["selector  rows  target share  duplicate pairs  seconds"]
        var shares: [SelectorKind: Double] = [:]
        for selector in SelectorKind.allCases {
            var request = SelectRequest(corpus: "pool", target: "python", selector: selector, budget: try Budget(parsing: "5%"), name: "rb-\(selector.rawValue)")
            request.seed = 1
            let subset = try catalog.select(request)
            let rows = Set(try catalog.members(subset.reference).map(\.row))
            let share = Double(rows.filter { labels.domains[$0] == "python_docs" }.count) / Double(max(rows.count, 1))
            let pairs = rows.filter { labels.duplicateOf[$0].map(rows.contains) ?? false }.count
            shares[selector] = share
            let name = selector.rawValue.padding(toLength: 8, withPad: " ", startingAt: 0)
            lines.append(name + String(format: " %5d  %11.1f%%  %15d  %7.2f", rows.count, 100 * share, pairs, subset.elapsedSeconds))
            #expect(rows.count <= 600 && rows.count > 0)
            if selector != .gtp { #expect(rows.count == 600, "\(selector)") }
        }
        print("realbench, budget 5% (600 of 12000), target domain base rate \(String(format: "%.1f%%", 100 * baseRate)):\n" + lines.joined(separator: "\n"))
        #expect(shares[.less]! > 8 * baseRate)
        #expect(shares[.gtp]! > 5 * baseRate)
        #expect(shares[.quad]! > 2 * baseRate)
        #expect(shares[.random]! < 2 * baseRate)
    }
}
