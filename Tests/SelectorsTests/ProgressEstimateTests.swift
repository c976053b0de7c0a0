import Foundation
import Selectors
import Testing

/// The ETA a terminal shows: linear for scans, quadratic for greedy picks whose cost grows.
@Suite("Progress estimates")
struct ProgressEstimateTests {
    @Test func aScanExtrapolatesItsRate() {
        let event = SelectionProgress(phase: "scoring", completed: 250, total: 1000, unit: "rows")
        #expect(event.secondsLeft(total: 1000, elapsed: 10, since: 0) == 30)
        // The rate counts from where the phase was first seen.
        #expect(event.secondsLeft(total: 1000, elapsed: 10, since: 200) == 150)
    }

    @Test func greedyPicksWhoseCostGrowsExtrapolateTheSquare() {
        // A quarter of the picks took 10 s; with work growing as n^2 the whole takes 160 s.
        let event = SelectionProgress(phase: "picking", completed: 250, total: 1000, unit: "picks", costGrows: true)
        #expect(event.secondsLeft(total: 1000, elapsed: 10, since: 0) == 150)
        // Work that really grows as n^2 is predicted exactly from any point.
        let perWork = 1e-6
        for done in [10, 100, 700] {
            let elapsed = Double(done * done) * perWork
            let predicted = SelectionProgress(phase: "picking", completed: done, total: 1000, unit: "picks", costGrows: true)
                .secondsLeft(total: 1000, elapsed: elapsed, since: 0)
            #expect(abs(predicted - (1e6 - Double(done * done)) * perWork) < 1e-9)
        }
    }

    @Test func nothingDoneYetHasNoEstimate() {
        let event = SelectionProgress(phase: "picking", completed: 5, total: 10, unit: "picks", costGrows: true)
        #expect(event.secondsLeft(total: 10, elapsed: 3, since: 5) == .infinity)
    }
}
